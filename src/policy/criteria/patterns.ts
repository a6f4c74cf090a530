import { compileGlobs } from '../glob.js';
import { globCovers, globsOverlap } from '../glob-relations.js';
import type { Criterion, PairFacts } from './types.js';

/** Agents by name or glob, or `group:NAME` for members of a directory group. */
export function agentCriterion(patterns: readonly string[]): Criterion {
  const groups = patterns.filter((p) => p.startsWith('group:')).map((p) => p.slice('group:'.length));
  const names = patterns.filter((p) => !p.startsWith('group:'));
  const byName = names.length > 0 ? compileGlobs(names) : () => false;
  return {
    code: 'AGENT_MISMATCH',
    matches: (facts) => byName(facts.agent) || groups.some((g) => facts.agentGroups.has(g)),
  };
}

/** A criterion that globs one field of the facts; IAM action names compare case-insensitively. */
export function globCriterion(code: Criterion['code'], patterns: readonly string[], field: (facts: PairFacts) => string, caseInsensitive = false): Criterion {
  const matcher = compileGlobs(patterns, { caseInsensitive });
  return { code, matches: (facts) => matcher(field(facts)) };
}

/**
 * Resources by ARN glob. A literal resource is matched; a pattern (a resource the request names
 * only partly) must be covered by an allowing rule and merely overlap a denying one, so neither
 * a grant nor a deny can be slipped past by naming a resource vaguely.
 */
export function resourceCriterion(patterns: readonly string[], effect: 'allow' | 'approve' | 'deny'): Criterion {
  const matcher = compileGlobs(patterns);
  const relation = effect === 'deny' ? globsOverlap : globCovers;
  return {
    code: 'RESOURCE_MISMATCH',
    matches: (facts) => (facts.resourceIsPattern ? patterns.some((p) => relation(p, facts.resource)) : matcher(facts.resource)),
  };
}
