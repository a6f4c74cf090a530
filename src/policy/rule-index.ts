import { withAccount } from '../aws/arn.js';
import type { ActionOnResource } from '../aws/classify/index.js';
import { AgentIndex, type AgentRule } from './agent-index.js';
import type { Matcher } from './glob.js';
import { ResourceIndex, type ResourceRule } from './resource-index.js';
import type { Effect } from './types.js';

/** IAM has about 18,000 actions; every one of them fits, so the cache never thrashes. */
const MAX_CACHED_ACTIONS = 20_000;

/** Up to this many rules of one effect on an action are tested one by one: an index would cost more than it saves. */
const LINEAR_UP_TO = 16;

/** A resource lookup that leaves this few rules is not worth an agent lookup. */
const FEW_ENOUGH = 4;

export interface RuleIndexOptions {
  /** Tests set 0 to exercise the resource and agent indexes on small policies. */
  readonly linearUpTo?: number;
}

/** What the index reads of a compiled rule (compile.ts's CompiledAwsRule is one). */
export interface IndexedRule extends AgentRule, ResourceRule {
  readonly spec: AgentRule['spec'] & ResourceRule['spec'] & { readonly effect: Effect; readonly actions: readonly string[] };
  /** Position in the policy set; candidates come in this order. */
  readonly order: number;
  /** The account of the rule's role, which fills the account of an account-less resource. */
  readonly roleAccount: string | undefined;
  readonly matchesAction: Matcher;
}

/**
 * The rules that may decide one (action, resource) pair, in policy order: supersets of the rules
 * whose criteria match, which evaluate.ts then tests. A rule left out here can never decide.
 */
export interface PairCandidates<R> {
  /** Allow and approve rules that may match `need` for `agent` (each with its own role's account). */
  granting(need: ActionOnResource, agent: string, groups: ReadonlySet<string>): readonly R[];
  /** Deny rules that may match `need` with its resource resolved to `resource` (the account filled as decided). */
  denying(need: ActionOnResource, resource: string, agent: string, groups: ReadonlySet<string>): readonly R[];
}

export interface CandidateSource<R> {
  forAction(action: string): PairCandidates<R>;
}

/**
 * Finds the rules that may decide a pair without scanning the whole set, by what the request
 * names. First the action: rules are filed by exact action name, by service prefix when only the
 * action name has wildcards (`s3:Get*`), and in a global list when the service part has wildcards
 * (`*:List*`); the candidates for an action are the merge of the three, in policy order, filtered
 * by the rules' action globs, and cached per action (agents ask for a few hundred distinct
 * actions, so the cache holds them all). Then, when an action has more than a few rules, by
 * resource (resource-index.ts) and by agent (agent-index.ts), whichever leaves fewer rules. What
 * neither can narrow (`*` resources and agents, a resource that starts with a wildcard) is filed
 * under the empty prefix and found by every lookup.
 */
export class RuleIndex<R extends IndexedRule> implements CandidateSource<R> {
  private readonly exact = new Map<string, R[]>();
  private readonly byService = new Map<string, R[]>();
  private readonly global: R[] = [];
  private readonly cache = new Map<string, ActionRules<R>>();
  private readonly linearUpTo: number;

  constructor(rules: readonly R[], options: RuleIndexOptions = {}) {
    this.linearUpTo = options.linearUpTo ?? LINEAR_UP_TO;
    for (const rule of rules) {
      const buckets = new Set<R[]>();
      for (const pattern of rule.spec.actions) buckets.add(this.bucketFor(pattern.toLowerCase()));
      for (const bucket of buckets) bucket.push(rule);
    }
  }

  /** Rules whose action patterns match `action`, in policy order. */
  candidates(action: string): readonly R[] {
    return this.forAction(action).rules;
  }

  forAction(action: string): ActionRules<R> {
    const key = action.toLowerCase();
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const service = key.slice(0, key.indexOf(':'));
    const rules = mergeInOrder([this.exact.get(key) ?? [], this.byService.get(service) ?? [], this.global]).filter((rule) => rule.matchesAction(action));
    const entry = new ActionRules(rules, this.linearUpTo);
    if (this.cache.size >= MAX_CACHED_ACTIONS) this.cache.delete(this.cache.keys().next().value ?? '');
    this.cache.set(key, entry);
    return entry;
  }

  private bucketFor(pattern: string): R[] {
    const colon = pattern.indexOf(':');
    const service = colon === -1 ? pattern : pattern.slice(0, colon);
    if (colon === -1 || /[*?]/.test(service)) return this.global;
    const target = /[*?]/.test(pattern) ? this.byService : this.exact;
    const key = /[*?]/.test(pattern) ? service : pattern;
    let bucket = target.get(key);
    if (bucket === undefined) {
      bucket = [];
      target.set(key, bucket);
    }
    return bucket;
  }
}

/**
 * The rules on one action, split by effect. Their resource and agent indexes are built on first
 * use (about 1.5 µs a rule), so an action no request names costs nothing, and the first decision
 * on an action with thousands of rules after a (re)load pays for its index.
 */
export class ActionRules<R extends IndexedRule> implements PairCandidates<R> {
  private readonly grants: Narrowing<R>;
  private readonly denies: Narrowing<R>;

  constructor(
    readonly rules: readonly R[],
    linearUpTo: number,
  ) {
    this.grants = new Narrowing(rules.filter((r) => r.spec.effect !== 'deny'), linearUpTo);
    this.denies = new Narrowing(rules.filter((r) => r.spec.effect === 'deny'), linearUpTo);
  }

  granting(need: ActionOnResource, agent: string, groups: ReadonlySet<string>): readonly R[] {
    const { grants } = this;
    if (grants.linear) return grants.rules;
    const byResource: Array<readonly R[]> = [];
    if (!need.resource.needsAccount) grants.resources().matching(need.resource.arn, byResource);
    // Each rule sees an account-less resource in its own role's account, so each role account
    // looks the ARN up as its rules will see it.
    else for (const [account, resources] of grants.byAccount()) resources.matching(withAccount(need.resource, account), byResource);
    return grants.narrow(agent, groups, byResource);
  }

  denying(need: ActionOnResource, resource: string, agent: string, groups: ReadonlySet<string>): readonly R[] {
    const { denies } = this;
    if (denies.linear) return denies.rules;
    const byResource: Array<readonly R[]> = [];
    // A deny applies to a resource pattern as soon as it overlaps it (criteria/patterns.ts).
    if (need.wildcard === true && /[*?]/.test(resource)) denies.resources().overlapping(resource, byResource);
    else denies.resources().matching(resource, byResource);
    return denies.narrow(agent, groups, byResource);
  }
}

/** One effect's rules on one action, by resource (all together, or by role account) and by agent. */
class Narrowing<R extends IndexedRule> {
  /** So few rules that testing each costs less than looking them up. */
  readonly linear: boolean;
  private combined: ResourceIndex<R> | undefined;
  private accounts: ReadonlyMap<string, ResourceIndex<R>> | undefined;
  private agents: AgentIndex<R> | undefined;

  constructor(
    readonly rules: readonly R[],
    linearUpTo: number,
  ) {
    this.linear = rules.length <= linearUpTo;
  }

  resources(): ResourceIndex<R> {
    this.combined ??= new ResourceIndex(this.rules);
    return this.combined;
  }

  /** The same rules by role account (`''` for none), for account-less resources. */
  byAccount(): ReadonlyMap<string, ResourceIndex<R>> {
    if (this.accounts === undefined) {
      const groups = new Map<string, R[]>();
      for (const rule of this.rules) {
        const account = rule.roleAccount ?? '';
        const group = groups.get(account);
        if (group === undefined) groups.set(account, [rule]);
        else group.push(rule);
      }
      this.accounts = new Map([...groups].map(([account, rules]) => [account, new ResourceIndex(rules)] as const));
    }
    return this.accounts;
  }

  /**
   * The smaller of two supersets, in policy order: the rules that may name the resource, or
   * those that may name the agent (looked up only when the resource leaves more than a few).
   */
  narrow(agent: string, groups: ReadonlySet<string>, byResource: ReadonlyArray<readonly R[]>): readonly R[] {
    const resourceCount = total(byResource);
    if (resourceCount <= FEW_ENOUGH) return mergeInOrder(byResource);
    this.agents ??= new AgentIndex(this.rules);
    const byAgent: Array<readonly R[]> = [];
    this.agents.lookup(agent, groups, byAgent);
    return mergeInOrder(total(byAgent) < resourceCount ? byAgent : byResource);
  }
}

/** Every rule for every pair, in policy order: what the index must agree with (tests, bench/policy.js). */
export function linearScan<R extends IndexedRule>(rules: readonly R[]): CandidateSource<R> {
  const grants = rules.filter((r) => r.spec.effect !== 'deny');
  const denies = rules.filter((r) => r.spec.effect === 'deny');
  const all: PairCandidates<R> = { granting: () => grants, denying: () => denies };
  return { forAction: () => all };
}

function total<R>(lists: ReadonlyArray<readonly R[]>): number {
  let n = 0;
  for (const list of lists) n += list.length;
  return n;
}

const NONE: readonly never[] = [];

/** Lists each in policy order → one list in policy order, each rule once. */
function mergeInOrder<R extends IndexedRule>(lists: ReadonlyArray<readonly R[]>): readonly R[] {
  let merged: readonly R[] = NONE;
  for (const list of lists) {
    if (list.length === 0) continue;
    merged = merged.length === 0 ? list : mergeTwo(merged, list);
  }
  return merged;
}

function mergeTwo<R extends IndexedRule>(a: readonly R[], b: readonly R[]): R[] {
  const out: R[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x.order < y.order)) {
      out.push(x as R);
      i++;
    } else if (x === undefined || y.order < x.order) {
      out.push(y);
      j++;
    } else {
      out.push(x);
      i++;
      j++;
    }
  }
  return out;
}
