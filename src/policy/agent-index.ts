import { literalRuns } from './glob.js';
import { fileUnder, PrefixSet } from './prefix-set.js';

/** What the agent index reads of a rule. */
export interface AgentRule {
  readonly spec: { readonly agents: readonly string[] };
}

/**
 * Rules by the agents they name (criteria/patterns.ts): a literal name by that name, a glob by
 * its literal text before the first wildcard (`*` by the empty prefix, so it is always found),
 * `group:NAME` by the group. `lookup` answers a superset of the rules whose agent criterion an
 * agent meets.
 */
export class AgentIndex<R extends AgentRule> {
  private readonly exact = new Map<string, R[]>();
  private readonly groups = new Map<string, R[]>();
  private readonly prefixed: PrefixSet<R>;

  constructor(rules: readonly R[]) {
    const prefixed = new Map<string, R[]>();
    for (const rule of rules) {
      for (const pattern of rule.spec.agents) {
        if (pattern.startsWith('group:')) {
          fileUnder(this.groups, pattern.slice('group:'.length), rule);
          continue;
        }
        const runs = literalRuns(pattern);
        fileUnder(runs.length === 1 ? this.exact : prefixed, runs[0] ?? '', rule);
      }
    }
    this.prefixed = new PrefixSet(prefixed);
  }

  /** Pushes the rules that may name `agent`, a member of `groups`. */
  lookup(agent: string, groups: ReadonlySet<string>, out: Array<readonly R[]>): void {
    const named = this.exact.get(agent);
    if (named !== undefined) out.push(named);
    this.prefixed.prefixesOf(agent, out);
    if (this.groups.size === 0) return;
    for (const group of groups) {
      const members = this.groups.get(group);
      if (members !== undefined) out.push(members);
    }
  }
}
