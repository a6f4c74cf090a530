import { describe, expect, it } from 'vitest';
import { ANY_RESOURCE } from '../../src/aws/arn.js';
import type { ActionOnResource } from '../../src/aws/classify/index.js';
import { compilePolicySet, type CompiledAwsRule, type CompiledPolicySet } from '../../src/policy/compile.js';
import { decide, firstMismatch, pairFacts, type RequestFacts } from '../../src/policy/evaluate.js';
import { PrefixSet } from '../../src/policy/prefix-set.js';
import { linearScan, RuleIndex } from '../../src/policy/rule-index.js';
import type { PairFacts } from '../../src/policy/criteria/types.js';
import type { AgentSpec, AwsRuleSpec, Effect } from '../../src/policy/types.js';

/**
 * The rule index must answer, for every pair, every rule a linear scan over all rules would find
 * matching, in policy order; then `decide` through the index equals `decide` over every rule.
 * Random policies and requests from a seeded PRNG (mulberry32), on small vocabularies so that
 * prefixes collide, wildcards cross field boundaries and colons, denies overlap request patterns
 * from outside their prefix, and account-less resources meet rules of several role accounts.
 */

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(private readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  some<T>(items: readonly T[], max: number): T[] {
    return Array.from({ length: 1 + this.int(max) }, () => this.pick(items));
  }
}

const ACCOUNTS = ['111111111111', '222222222222', '333333333333'];
const REGIONS = ['us-east-1', 'eu-west-1'];
const AGENTS: readonly AgentSpec[] = [
  { name: 'bot', owners: [], groups: [], source: { file: 'p', line: 1, column: 1 } },
  { name: 'bot-1', owners: [], groups: ['g1'], source: { file: 'p', line: 1, column: 1 } },
  { name: 'ci', owners: [], groups: ['g1', 'g2'], source: { file: 'p', line: 1, column: 1 } },
  { name: 'ci-runner', owners: [], groups: ['g2'], source: { file: 'p', line: 1, column: 1 } },
];
const REQUEST_AGENTS = ['bot', 'bot-1', 'bot-12', 'ci', 'ci-runner', 'stranger', 'b0t'];
const AGENT_PATTERNS = ['bot', 'bot-1', 'bot-12', 'ci', 'ci-runner', 'bot*', 'bot-1*', 'b?t', '*-1', 'c*r', 'ci-?unner', '*', 'group:g1', 'group:g2'];
const ACTION_PATTERNS = ['s3:GetObject', 's3:Get*', 's3:*', '*', 'dynamodb:GetItem', 'dynamodb:*Item', 'kms:Decrypt', 'kms:*', '*:Get*', 's3:PutObject'];
const ACTIONS: Readonly<Record<string, readonly string[]>> = { s3: ['s3:GetObject', 's3:PutObject'], dynamodb: ['dynamodb:GetItem', 'dynamodb:PutItem'], kms: ['kms:Decrypt', 'kms:GenerateDataKey'] };
const APPROVAL = { reviewers: ['r1'], groups: [], quorum: 1, pendingTimeoutSeconds: 900, holdTimeoutSeconds: 55, maxUses: 1 };
const AT = new Date('2026-03-02T10:00:00Z');

/** A concrete ARN (account '' when the request names none), from parts that share prefixes and hold colons and literal stars. */
function concreteArn(g: Gen, service: string, account: string): string {
  const region = g.pick(REGIONS);
  if (service === 's3') {
    const key = Array.from({ length: g.int(4) }, () => g.pick(['a', 'ab', 'b', 'x:y', 'secret', 'a*b', 'q?'])).join('/');
    return `arn:aws:s3:::${g.pick(['logs', 'data', 'data-2'])}${key === '' && g.chance(0.5) ? '' : `/${key}`}`;
  }
  if (service === 'dynamodb') {
    const table = `table/${g.pick(['orders', 'orders-2', 'users', 't:x'])}`;
    return `arn:aws:dynamodb:${region}:${account}:${table}${g.chance(0.3) ? `/index/${g.pick(['by-date', 'by'])}` : ''}`;
  }
  return `arn:aws:kms:${region}:${account}:${g.pick(['key/abc', 'key/abd', 'key/ab', 'alias/team-a', 'alias/team-b'])}`;
}

/** A wildcard somewhere: a cut with `*`, a `?` for a character, a star for a stretch or for a whole ARN field. */
function mutate(g: Gen, arn: string): string {
  let out = arn;
  for (let n = g.int(3); n > 0; n--) {
    const at = g.int(out.length + 1);
    const kind = g.int(4);
    if (kind === 0) out = `${out.slice(0, at)}*`;
    else if (kind === 1 && at < out.length) out = `${out.slice(0, at)}?${out.slice(at + 1)}`;
    else if (kind === 2) out = `${out.slice(0, at)}*${out.slice(at + g.int(6))}`;
    else {
      const fields = out.split(':');
      const field = 3 + g.int(2);
      if (fields.length > field) fields[field] = '*';
      out = fields.join(':');
    }
  }
  return out;
}

function rulePattern(g: Gen): string {
  const special = g.int(20);
  if (special === 0) return '*';
  if (special === 1) return 'arn:aws:*';
  if (special === 2) return '*secret*';
  if (special === 3) return 'arn:aws:s3:::*/secret/*';
  if (special === 4) return `arn:aws:dynamodb:*:*:${g.pick(['table/orders', 'table/orders*', 'table/*/index/*'])}`;
  if (special === 5) return 'arn:aws:kms:*:*:key/abc';
  const service = g.pick(['s3', 'dynamodb', 'kms']);
  const arn = concreteArn(g, service, g.chance(0.2) ? '*' : g.pick(ACCOUNTS));
  // A literal `*` of the ARN, written as IAM's escape, now and then.
  const escaped = g.chance(0.3) ? arn.replace('*', '${*}') : arn;
  return g.chance(0.7) ? mutate(g, escaped) : escaped;
}

function randomRule(g: Gen, i: number): AwsRuleSpec {
  const roll = g.int(20);
  const effect: Effect = roll < 5 ? 'deny' : roll < 8 ? 'approve' : 'allow';
  const accounts = g.chance(0.1) ? { accounts: [g.pick([...ACCOUNTS, '2*'])] } : {};
  const credentials = effect === 'deny' ? {} : { credentials: { roleArn: `arn:aws:iam::${g.pick(ACCOUNTS)}:role/r${g.int(3)}`, sessionDurationSeconds: 900 } };
  return {
    kind: 'aws',
    name: `rule-${i}`,
    effect,
    agents: g.some(AGENT_PATTERNS, 2),
    actions: g.some(ACTION_PATTERNS, 2),
    resources: Array.from({ length: 1 + g.int(3) }, () => rulePattern(g)),
    ...accounts,
    ...credentials,
    ...(effect === 'approve' && { approval: APPROVAL }),
    source: { file: 'random.yaml', line: i + 1, column: 3 },
  };
}

function randomPolicy(g: Gen): CompiledPolicySet {
  // Mostly big enough that one action holds more than the index's linear threshold.
  const count = g.chance(0.2) ? 1 + g.int(15) : 20 + g.int(100);
  const rules = Array.from({ length: count }, (_, i) => randomRule(g, i));
  return compilePolicySet({ rules, directory: { agents: AGENTS, reviewers: [], groups: [] }, files: ['random.yaml'], hash: 'h' });
}

function randomNeed(g: Gen): ActionOnResource {
  const service = g.pick(['s3', 'dynamodb', 'kms']);
  const action = g.pick(ACTIONS[service] ?? []);
  // An action on no particular resource (ListBuckets) names `*`.
  if (g.chance(0.04)) return { action, resource: ANY_RESOURCE };
  const accountLess = service !== 's3' && g.chance(0.4);
  const arn = concreteArn(g, service, accountLess ? '' : g.pick(ACCOUNTS));
  const resource = { arn, needsAccount: accountLess };
  if (!g.chance(0.25)) return { action, resource };
  // A resource named only as a pattern (a KMS alias as key/*, a secret as name-??????).
  const pattern = g.chance(0.5) ? mutate(g, arn) : arn.replace(/[^/:]*$/, g.pick(['*', 'a*', '??', 'ab?']));
  return { action, resource: { arn: pattern, needsAccount: accountLess }, wildcard: true };
}

function randomRequest(g: Gen): RequestFacts {
  const needs = Array.from({ length: g.chance(0.15) ? 2 : 1 }, () => randomNeed(g));
  const service = needs[0]?.action.split(':')[0] ?? 's3';
  return { agent: g.pick(REQUEST_AGENTS), service, region: g.pick(REGIONS), needs, at: AT };
}

const NO_GROUPS: ReadonlySet<string> = new Set();

/** Every rule the index must offer for a pair is there, and the offer is in policy order. */
function expectSupersets(policy: CompiledPolicySet, index: RuleIndex<CompiledAwsRule>, request: RequestFacts, context: string): void {
  const groups = policy.agentGroups.get(request.agent) ?? NO_GROUPS;
  for (const need of request.needs) {
    // Facts depend on a rule only through its role account (which fills an account-less resource).
    const factsByAccount = new Map<string | undefined, PairFacts>();
    const factsFor = (rule: CompiledAwsRule | undefined): PairFacts => {
      const known = factsByAccount.get(rule?.roleAccount);
      if (known !== undefined) return known;
      const facts = pairFacts(policy, request, need, rule);
      factsByAccount.set(rule?.roleAccount, facts);
      return facts;
    };
    const offered = index.forAction(need.action);
    const granting = new Set(offered.granting(need, request.agent, groups));
    expectInOrder([...granting], context);
    for (const rule of policy.awsRules) {
      if (rule.spec.effect === 'deny' || firstMismatch(rule, factsFor(rule)) !== undefined) continue;
      expect(granting.has(rule), `${context}: ${rule.spec.name} matches ${need.resource.arn} but was not offered`).toBe(true);
    }
    // A deny is tested in the account the decision resolved: any role's, or none.
    for (const holder of uniqueBy([undefined, ...policy.awsRules], (r) => r?.roleAccount ?? '')) {
      const facts = factsFor(holder);
      const denying = new Set(offered.denying(need, facts.resource, request.agent, groups));
      expectInOrder([...denying], context);
      for (const rule of policy.awsRules) {
        if (rule.spec.effect !== 'deny' || firstMismatch(rule, facts) !== undefined) continue;
        expect(denying.has(rule), `${context}: deny ${rule.spec.name} matches ${facts.resource} but was not offered`).toBe(true);
      }
    }
  }
}

function expectInOrder(rules: readonly CompiledAwsRule[], context: string): void {
  for (let i = 1; i < rules.length; i++) expect((rules[i]?.order ?? 0) > (rules[i - 1]?.order ?? 0), `${context}: candidates out of policy order`).toBe(true);
}

function uniqueBy<T>(values: readonly T[], key: (value: T) => string): T[] {
  const seen = new Set<string>();
  return values.filter((v) => !seen.has(key(v)) && (seen.add(key(v)), true));
}

describe('rule index against a linear scan', () => {
  it('decides 10,000 random requests on 1,000 random policies as a scan over every rule does', () => {
    const POLICIES = 1_000;
    const REQUESTS = 10;
    let indexedPairs = 0;
    const effects = new Map<string, number>();
    for (let seed = 1; seed <= POLICIES; seed++) {
      const g = new Gen(mulberry32(seed));
      const policy = randomPolicy(g);
      const linear = linearScan(policy.awsRules);
      // The same index with no linear threshold, so small policies go through the indexes too.
      const eager = new RuleIndex(policy.awsRules, { linearUpTo: 0 });
      for (let r = 0; r < REQUESTS; r++) {
        const request = randomRequest(g);
        const context = `seed ${seed}, request ${r}: ${JSON.stringify(request)}`;
        const expected = decide(policy, request, linear);
        expect(decide(policy, request), context).toEqual(expected);
        expect(decide(policy, request, eager), context).toEqual(expected);
        expectSupersets(policy, eager, request, context);
        effects.set(expected.effect, (effects.get(expected.effect) ?? 0) + 1);
        indexedPairs += request.needs.length;
      }
    }
    // The generator reaches every outcome often enough to mean something.
    expect(indexedPairs).toBeGreaterThan(POLICIES * REQUESTS);
    for (const effect of ['allow', 'deny', 'approve']) expect(effects.get(effect) ?? 0, effect).toBeGreaterThan(500);
  }, 120_000);

  const ROLE = 'arn:aws:iam::111111111111:role/r';
  const rule = (name: string, effect: Effect, resources: string[], role = ROLE, agents = ['*']): AwsRuleSpec => ({
    kind: 'aws',
    name,
    effect,
    agents,
    actions: ['kms:Decrypt', 'dynamodb:GetItem'],
    resources,
    ...(effect !== 'deny' && { credentials: { roleArn: role, sessionDurationSeconds: 900 } }),
    ...(effect === 'approve' && { approval: APPROVAL }),
    source: { file: 'p.yaml', line: 1, column: 1 },
  });
  const compiled = (rules: AwsRuleSpec[]) => compilePolicySet({ rules, directory: { agents: AGENTS, reviewers: [], groups: [] }, files: [], hash: '' });
  const filler = (n: number, effect: Effect) => Array.from({ length: n }, (_, i) => rule(`${effect}-filler-${i}`, effect, [`arn:aws:kms:eu-west-1:111111111111:alias/filler-${i}`]));

  it('finds a deny on key/abc for a request that names key/* (the deny prefix is no prefix of the request)', () => {
    const policy = compiled([rule('allow-keys', 'allow', ['arn:aws:kms:us-east-1:111111111111:key/*']), ...filler(40, 'deny'), rule('deny-abc', 'deny', ['arn:aws:kms:us-east-1:111111111111:key/abc'])]);
    const need: ActionOnResource = { action: 'kms:Decrypt', resource: { arn: 'arn:aws:kms:us-east-1:111111111111:key/*', needsAccount: false }, wildcard: true };
    const decision = decide(policy, { agent: 'bot', service: 'kms', region: 'us-east-1', needs: [need], at: AT });
    expect(decision.effect).toBe('deny');
    expect(decision.rules).toEqual(['deny-abc']);
    expect(decision).toEqual(decide(policy, { agent: 'bot', service: 'kms', region: 'us-east-1', needs: [need], at: AT }, linearScan(policy.awsRules)));
  });

  it('fills an account-less resource with each rule its own role account', () => {
    const other = 'arn:aws:iam::222222222222:role/r';
    const policy = compiled([
      ...filler(30, 'allow'),
      rule('in-222', 'allow', ['arn:aws:dynamodb:us-east-1:222222222222:table/orders'], other),
      rule('in-111', 'allow', ['arn:aws:dynamodb:us-east-1:111111111111:table/orders']),
      ...filler(30, 'deny'),
      rule('deny-in-111', 'deny', ['arn:aws:dynamodb:*:111111111111:table/orders']),
    ]);
    const request = (): RequestFacts => ({ agent: 'bot', service: 'dynamodb', region: 'us-east-1', needs: [{ action: 'dynamodb:GetItem', resource: { arn: 'arn:aws:dynamodb:us-east-1::table/orders', needsAccount: true } }], at: AT });
    // The first allow in policy order picks the account; the deny names the other one.
    const decision = decide(policy, request());
    expect(decision.effect).toBe('allow');
    expect(decision.grants).toEqual([{ action: 'dynamodb:GetItem', resource: 'arn:aws:dynamodb:us-east-1:222222222222:table/orders' }]);
    expect(decision).toEqual(decide(policy, request(), linearScan(policy.awsRules)));
  });

  it('finds a rule whose wildcard region and account swallow colons of the ARN', () => {
    const policy = compiled([...filler(30, 'deny'), rule('deny-orders', 'deny', ['arn:aws:dynamodb:*:*:table/orders*']), rule('allow-all', 'allow', ['*'])]);
    for (const arn of ['arn:aws:dynamodb:us-east-1:111111111111:table/orders', 'arn:aws:dynamodb:us-east-1:111111111111:x:table/orders-2', 'arn:aws:dynamodb:a:b:c:d:table/orders']) {
      const request: RequestFacts = { agent: 'bot', service: 'dynamodb', region: 'us-east-1', needs: [{ action: 'dynamodb:GetItem', resource: { arn, needsAccount: false } }], at: AT };
      expect(decide(policy, request).rules, arn).toEqual(['deny-orders']);
    }
  });
});

describe('PrefixSet', () => {
  it('finds exactly the keys that are prefixes of a text, and those that extend a prefix', () => {
    const g = new Gen(mulberry32(7));
    for (let round = 0; round < 300; round++) {
      const keys = [...new Set(Array.from({ length: g.int(30) }, () => Array.from({ length: g.int(6) }, () => g.pick(['a', 'b', ':', '/'])).join('')))];
      const set = new PrefixSet(new Map(keys.map((k) => [k, [k]])));
      for (let q = 0; q < 20; q++) {
        const text = Array.from({ length: g.int(8) }, () => g.pick(['a', 'b', ':', '/', 'c'])).join('');
        const prefixes: Array<readonly string[]> = [];
        set.prefixesOf(text, prefixes);
        expect(prefixes.flat().sort(), `${JSON.stringify(keys)} ${text}`).toEqual(keys.filter((k) => text.startsWith(k)).sort());
        const extending: Array<readonly string[]> = [];
        set.extending(text, extending);
        expect(extending.flat().sort(), `${JSON.stringify(keys)} ${text}`).toEqual(keys.filter((k) => k.startsWith(text)).sort());
      }
    }
  });
});
