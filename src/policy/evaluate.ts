import { accountOf, withAccount } from '../aws/arn.js';
import type { ActionOnResource } from '../aws/classify/index.js';
import type { CompiledAwsRule, CompiledPolicySet } from './compile.js';
import type { CredentialsSpec, Effect } from './types.js';

/** Stable reason codes: written to the audit log and shown to the agent. */
export type ReasonCode = 'RULE_ALLOWED' | 'RULE_DENIED' | 'NO_RULE_MATCHED' | 'ROLES_DIFFER';

export interface Reason {
  readonly code: ReasonCode;
  readonly action: string;
  readonly resource: string;
  readonly rule?: string;
}

/** One (action, resource) the minted credentials will allow, with the account filled in. */
export interface Grant {
  readonly action: string;
  readonly resource: string;
}

export interface Decision {
  readonly effect: Effect;
  /** Rules that decided, in order (one per distinct rule). Empty when no rule matched. */
  readonly rules: readonly string[];
  readonly reasons: readonly Reason[];
  readonly grants: readonly Grant[];
  readonly credentials?: CredentialsSpec;
}

function firstMatch(rules: readonly CompiledAwsRule[], effect: Effect, agent: string, action: string, resourceFor: (rule: CompiledAwsRule) => string) {
  for (const rule of rules) {
    if (rule.spec.effect === effect && rule.agent(agent) && rule.action(action) && rule.resource(resourceFor(rule))) return rule;
  }
  return undefined;
}

function decidePair(policy: CompiledPolicySet, agent: string, need: ActionOnResource): { reason: Reason; allow?: CompiledAwsRule } {
  // The allow rule fixes the account: its role is the principal the call runs as, so a
  // resource named without an account (a DynamoDB table) lives in the role's account.
  const resolve = (rule: CompiledAwsRule) => withAccount(need.resource, accountOf(rule.spec.credentials?.roleArn ?? '') ?? '');
  const allow = firstMatch(policy.awsRules, 'allow', agent, need.action, resolve);
  const resource = allow === undefined ? need.resource.arn : resolve(allow);
  const deny = firstMatch(policy.awsRules, 'deny', agent, need.action, () => resource);
  if (deny !== undefined) return { reason: { code: 'RULE_DENIED', action: need.action, resource, rule: deny.spec.name } };
  if (allow === undefined) return { reason: { code: 'NO_RULE_MATCHED', action: need.action, resource } };
  return { reason: { code: 'RULE_ALLOWED', action: need.action, resource, rule: allow.spec.name }, allow };
}

/**
 * Decides a request that needs every pair in `needs`. Deny beats allow, and the default is
 * deny: the request is allowed only when every pair is allowed and no pair is denied. All
 * pairs must be allowed under the same role, since one STS session runs the call.
 */
export function decide(policy: CompiledPolicySet, agent: string, needs: readonly ActionOnResource[]): Decision {
  const outcomes = needs.map((need) => decidePair(policy, agent, need));
  const reasons = outcomes.map((o) => o.reason);
  const refusing = reasons.filter((r) => r.code !== 'RULE_ALLOWED');
  if (outcomes.length === 0 || refusing.length > 0) {
    return { effect: 'deny', rules: unique(refusing.flatMap((r) => (r.rule === undefined ? [] : [r.rule]))), reasons, grants: [] };
  }
  const allowRules = outcomes.map((o) => o.allow).filter((r): r is CompiledAwsRule => r !== undefined);
  const roles = unique(allowRules.map((r) => r.spec.credentials?.roleArn ?? ''));
  const rules = unique(allowRules.map((r) => r.spec.name));
  const credentials = allowRules[0]?.spec.credentials;
  if (roles.length !== 1 || credentials === undefined) {
    const conflict: Reason = { code: 'ROLES_DIFFER', action: needs.map((n) => n.action).join(','), resource: roles.join(',') };
    return { effect: 'deny', rules, reasons: [...reasons, conflict], grants: [] };
  }
  return {
    effect: 'allow',
    rules,
    reasons,
    grants: reasons.map((r) => ({ action: r.action, resource: r.resource })),
    credentials,
  };
}

/** Host rules for CONNECT tunnels: deny beats allow; undefined when no rule matches. */
export function decideHost(policy: CompiledPolicySet, host: string, port: number): { effect: Effect; rule: string } | undefined {
  const matching = policy.hostRules.filter((r) => r.host(host) && r.spec.ports.includes(port));
  const rule = matching.find((r) => r.spec.effect === 'deny') ?? matching[0];
  return rule === undefined ? undefined : { effect: rule.spec.effect, rule: rule.spec.name };
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
