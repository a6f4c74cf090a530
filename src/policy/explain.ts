import type { ActionOnResource } from '../aws/classify/index.js';
import type { CompiledPolicySet } from './compile.js';
import type { MismatchCode } from './criteria/types.js';
import { decide, firstMismatch, pairFacts, type Decision, type RequestFacts } from './evaluate.js';
import type { Effect, SourceLocation } from './types.js';

export interface RuleTrace {
  readonly rule: string;
  readonly effect: Effect;
  readonly source: SourceLocation;
  /** MATCHED, or the first criterion the rule failed. */
  readonly outcome: 'MATCHED' | MismatchCode;
}

export interface PairExplanation {
  readonly action: string;
  readonly resource: string;
  readonly traces: readonly RuleTrace[];
}

export interface Explanation {
  readonly decision: Decision;
  readonly pairs: readonly PairExplanation[];
}

/** Every AWS rule against every pair of the request: which matched, why the others did not, and the decision. */
export function explain(policy: CompiledPolicySet, request: RequestFacts): Explanation {
  const decision = decide(policy, request);
  const pairs = request.needs.map((need: ActionOnResource, i) => ({
    action: need.action,
    resource: decision.reasons[i]?.resource ?? need.resource.arn,
    traces: policy.awsRules.map((rule): RuleTrace => {
      // Allow and approve rules resolve an account-less resource with their own role's
      // account; deny rules see it as the decision resolved it.
      const facts = pairFacts(policy, request, need, rule.spec.effect === 'deny' ? undefined : rule);
      const resolved = rule.spec.effect === 'deny' ? { ...facts, resource: decision.reasons[i]?.resource ?? facts.resource } : facts;
      return { rule: rule.spec.name, effect: rule.spec.effect, source: rule.spec.source, outcome: firstMismatch(rule, resolved) ?? 'MATCHED' };
    }),
  }));
  return { decision, pairs };
}

/** Human-readable lines for the CLI. */
export function formatExplanation(explanation: Explanation): string[] {
  const lines: string[] = [];
  for (const pair of explanation.pairs) {
    lines.push(`${pair.action} on ${pair.resource}`);
    for (const trace of pair.traces) {
      const mark = trace.outcome === 'MATCHED' ? 'matched' : `no (${trace.outcome})`;
      lines.push(`  ${trace.effect.padEnd(7)} ${trace.rule.padEnd(32)} ${mark.padEnd(28)} ${trace.source.file}:${trace.source.line}`);
    }
  }
  const d = explanation.decision;
  lines.push('');
  lines.push(`decision: ${d.effect}${d.rules.length > 0 ? ` by ${d.rules.map((r) => `"${r}"`).join(', ')}` : ''}`);
  for (const reason of d.reasons) lines.push(`  ${reason.code} ${reason.action} on ${reason.resource}${reason.rule === undefined ? '' : ` (rule "${reason.rule}")`}`);
  for (const approval of d.approvals) {
    const who = [...approval.spec.reviewers, ...approval.spec.groups.map((g) => `group:${g}`)].join(', ');
    lines.push(`  approval by ${approval.spec.quorum} of: ${who} (rule "${approval.rule}")`);
  }
  return lines;
}
