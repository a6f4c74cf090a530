import { accountOf, withAccount } from '../aws/arn.js';
import type { ActionOnResource } from '../aws/classify/index.js';
import type { CompiledAwsRule, CompiledPolicySet } from './compile.js';
import { callerIdentityDefault } from './caller-identity.js';
import { pathAmbiguity } from './criteria/host-path.js';
import type { MismatchCode, PairFacts } from './criteria/types.js';
import type { CandidateSource } from './rule-index.js';
import type { Decision, Reason, RequestFacts } from './decision.js';

export type { ApprovalRequirement, Decision, Grant, Reason, ReasonCode, RequestFacts } from './decision.js';

interface PairOutcome {
  readonly reason: Reason;
  readonly rule?: CompiledAwsRule;
}

const NO_GROUPS: ReadonlySet<string> = new Set();

/** The first criterion a rule fails for these facts, or undefined when it matches. */
export function firstMismatch(rule: CompiledAwsRule, facts: PairFacts): MismatchCode | undefined {
  for (const criterion of rule.criteria) if (!criterion.matches(facts)) return criterion.code;
  return undefined;
}

/** Facts for one pair as seen by one rule (which fixes the account of an account-less resource). */
export function pairFacts(policy: CompiledPolicySet, request: RequestFacts, need: ActionOnResource, rule: CompiledAwsRule | undefined): PairFacts {
  const resource = withAccount(need.resource, rule?.roleAccount ?? '');
  return {
    agent: request.agent,
    agentGroups: policy.agentGroups.get(request.agent) ?? NO_GROUPS,
    service: request.service,
    region: request.region,
    action: need.action,
    resource,
    resourceIsPattern: need.wildcard === true,
    account: accountOf(resource) ?? rule?.roleAccount ?? '',
    parameters: request.parameters ?? {},
    sourceIp: request.sourceIp,
    requestBytes: request.requestBytes,
    at: request.at ?? new Date(),
  };
}

/**
 * One pair against the rules that may decide it. `candidates` answers supersets of the matching
 * rules in policy order (rule-index.ts), so testing only those gives what testing every rule would.
 */
function decidePair(policy: CompiledPolicySet, request: RequestFacts, need: ActionOnResource, candidates: CandidateSource<CompiledAwsRule>): PairOutcome {
  const groups = policy.agentGroups.get(request.agent) ?? NO_GROUPS;
  const rules = candidates.forAction(need.action);
  // Facts differ between rules only by the role account that fills the resource; most rules
  // share one role, or a few, so build them once per account.
  let first: PairFacts | undefined;
  let firstAccount: string | undefined;
  let others: Map<string | undefined, PairFacts> | undefined;
  const factsFor = (rule: CompiledAwsRule | undefined): PairFacts => {
    const account = rule?.roleAccount;
    if (first === undefined) {
      first = pairFacts(policy, request, need, rule);
      firstAccount = account;
      return first;
    }
    if (account === firstAccount) return first;
    others ??= new Map();
    let facts = others.get(account);
    if (facts === undefined) {
      facts = pairFacts(policy, request, need, rule);
      others.set(account, facts);
    }
    return facts;
  };
  // The allowing rule fixes the account: its role is the principal the call runs as, so a
  // resource named without an account (a DynamoDB table) lives in the role's account.
  let approve: CompiledAwsRule | undefined;
  let allow: CompiledAwsRule | undefined;
  for (const rule of rules.granting(need, request.agent, groups)) {
    if (rule.spec.effect === 'approve' ? approve !== undefined : allow !== undefined) continue;
    if (firstMismatch(rule, factsFor(rule)) !== undefined) continue;
    if (rule.spec.effect === 'approve') approve = rule;
    else allow = rule;
    if (approve !== undefined) break; // approve beats allow; nothing later changes the outcome
  }
  const chosen = approve ?? allow;
  const facts = factsFor(chosen);
  // A deny is tested with the resource as the decision resolved it (the chosen rule's account).
  const deny = rules.denying(need, facts.resource, request.agent, groups).find((rule) => firstMismatch(rule, facts) === undefined);
  const { action } = need;
  const { resource } = facts;
  if (deny !== undefined) return { reason: { action, resource, code: 'RULE_DENIED', rule: deny.spec.name }, rule: deny };
  if (chosen === undefined) return { reason: { action, resource, code: 'NO_RULE_MATCHED' } };
  const code = chosen.spec.effect === 'approve' ? 'RULE_NEEDS_APPROVAL' : 'RULE_ALLOWED';
  return { reason: { action, resource, code, rule: chosen.spec.name }, rule: chosen };
}

/**
 * Decides a request that needs every pair in `needs`: the strictest outcome over all pairs.
 * Deny beats approve beats allow, and the default is deny. All pairs that go through must
 * do so under the same role, since one STS session runs the call. `candidates` is the rule
 * index; tests and bench/policy.js pass `linearScan(policy.awsRules)` to compare against every rule.
 */
export function decide(policy: CompiledPolicySet, request: RequestFacts, candidates: CandidateSource<CompiledAwsRule> = policy.index): Decision {
  const outcomes = request.needs.map((need) => decidePair(policy, request, need, candidates));
  const reasons = outcomes.map((o) => o.reason);
  const refusing = reasons.filter((r) => r.code === 'RULE_DENIED' || r.code === 'NO_RULE_MATCHED');
  if (outcomes.length === 0 || refusing.length > 0) {
    const refused: Decision = { effect: 'deny', rules: unique(refusing.flatMap((r) => (r.rule === undefined ? [] : [r.rule]))), reasons, grants: [], approvals: [] };
    // sts:GetCallerIdentity that no rule decides: IAM never refuses it (caller-identity.ts).
    return callerIdentityDefault(policy, request, refused) ?? refused;
  }
  const passing = outcomes.map((o) => o.rule).filter((r): r is CompiledAwsRule => r !== undefined);
  const rules = unique(passing.map((r) => r.spec.name));
  const roles = unique(passing.map((r) => r.spec.credentials?.roleArn ?? ''));
  const credentials = passing[0]?.spec.credentials;
  if (roles.length !== 1 || credentials === undefined) {
    const conflict: Reason = { code: 'ROLES_DIFFER', action: request.needs.map((n) => n.action).join(','), resource: roles.join(',') };
    return { effect: 'deny', rules, reasons: [...reasons, conflict], grants: [], approvals: [] };
  }
  const approvals = uniqueBy(
    passing.flatMap((r) => (r.spec.effect === 'approve' && r.spec.approval !== undefined ? [{ rule: r.spec.name, spec: r.spec.approval, ...(r.spec.description !== undefined && { description: r.spec.description }) }] : [])),
    (a) => a.rule,
  );
  return {
    effect: approvals.length > 0 ? 'approve' : 'allow',
    rules,
    reasons,
    grants: reasons.map((r, i) => (request.needs[i]?.wildcard === true ? { action: r.action, resource: r.resource, pattern: true } : { action: r.action, resource: r.resource })),
    credentials,
    approvals,
  };
}

export interface HostDecision {
  readonly effect: 'allow' | 'deny';
  readonly rule: string;
  /** Some matching rule looks at methods or paths: the connection must be intercepted and each request decided. */
  readonly inspect: boolean;
}

/**
 * Host rules for a CONNECT (before any request is seen): deny beats allow; undefined when no
 * rule matches. A deny that looks inside requests does not refuse the whole connection.
 */
export function decideHost(policy: CompiledPolicySet, host: string, port: number): HostDecision | undefined {
  const matching = policy.hostRules.filter((r) => r.host(host) && r.spec.ports.includes(port));
  const inspect = matching.some((r) => r.request !== undefined);
  const rule = matching.find((r) => r.spec.effect === 'deny' && r.request === undefined) ?? matching.find((r) => r.request === undefined) ?? matching[0];
  return rule === undefined ? undefined : { effect: rule.request === undefined ? rule.spec.effect : 'allow', rule: rule.spec.name, inspect };
}

/** A host request decided by its rules, or refused before any rule is matched because its path has more than one reading. */
export type HostRequestDecision = { readonly effect: 'allow' | 'deny'; readonly rule: string } | { readonly effect: 'ambiguous'; readonly why: string };

/**
 * Host rules for one request to a host that is not AWS: deny beats allow; undefined when no rule
 * matches. When some rule for the host reads paths, a path that servers may read more than one
 * way is refused first (criteria/host-path.ts), since the rules match it as sent and it is
 * forwarded as sent. Where no rule reads paths the path decides nothing, and is not judged.
 */
export function decideHostRequest(policy: CompiledPolicySet, host: string, port: number, method: string, path: string): HostRequestDecision | undefined {
  const forHost = policy.hostRules.filter((r) => r.host(host) && r.spec.ports.includes(port));
  if (forHost.some((r) => r.spec.paths !== undefined)) {
    const why = pathAmbiguity(path);
    if (why !== undefined) return { effect: 'ambiguous', why };
  }
  const matching = forHost.filter((r) => r.request === undefined || r.request(method, path));
  const rule = matching.find((r) => r.spec.effect === 'deny') ?? matching[0];
  return rule === undefined ? undefined : { effect: rule.spec.effect, rule: rule.spec.name };
}

// A decision has a pair or two, so these skip the Set when there is nothing to remove.
function unique<T>(values: readonly T[]): T[] {
  return values.length < 2 ? [...values] : [...new Set(values)];
}

function uniqueBy<T>(values: readonly T[], key: (value: T) => string): T[] {
  if (values.length < 2) return [...values];
  const seen = new Set<string>();
  return values.filter((v) => !seen.has(key(v)) && (seen.add(key(v)), true));
}
