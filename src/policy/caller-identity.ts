/**
 * sts:GetCallerIdentity when no rule decides it.
 *
 * It needs no permission: AWS answers it for any valid credentials, even under an explicit deny
 * ("No permissions are required to perform this operation", STS API reference), and tools call
 * it first (Terraform's AWS provider when it configures, to learn the account and partition;
 * scripts, to check they are logged in). Refusing it by default breaks them for no protection,
 * so countersign allows it, but not on a guess:
 *  - a rule that matches it (allow, approve or deny) decides as usual; this is only the default
 *    that replaces NO_RULE_MATCHED;
 *  - it runs under the one role the agent's allow and approve rules name, so the answer is the
 *    identity the agent's other calls run as (account, assumed-role ARN with the agent's session
 *    name). An agent whose rules name no role, or several, is refused as before: which identity
 *    it means is for a rule to say;
 *  - the session policy allows sts:GetCallerIdentity and nothing else, so the minted
 *    credentials can do nothing more than tell who they are; the call is forwarded, re-signed
 *    and audited like any other (rule `builtin:caller-identity`).
 */
import type { CompiledAwsRule, CompiledPolicySet } from './compile.js';
import type { Decision, RequestFacts } from './decision.js';
import type { CredentialsSpec } from './types.js';

export const CALLER_IDENTITY_ACTION = 'sts:GetCallerIdentity';
/** Rule names cannot contain ":", so this cannot be a rule of a policy set. */
export const CALLER_IDENTITY_RULE = 'builtin:caller-identity';

const NO_GROUPS: ReadonlySet<string> = new Set();
const rolesByPolicy = new WeakMap<CompiledPolicySet, Map<string, readonly CredentialsSpec[]>>();

/** The credentials of each distinct role the agent's allow and approve rules name, first rule first. */
export function rolesOfAgent(policy: CompiledPolicySet, agent: string): readonly CredentialsSpec[] {
  let byAgent = rolesByPolicy.get(policy);
  if (byAgent === undefined) {
    byAgent = new Map();
    rolesByPolicy.set(policy, byAgent);
  }
  const known = byAgent.get(agent);
  if (known !== undefined) return known;
  const groups = policy.agentGroups.get(agent) ?? NO_GROUPS;
  const seen = new Map<string, CredentialsSpec>();
  for (const rule of policy.awsRules) {
    const credentials = rule.spec.credentials;
    if (rule.spec.effect === 'deny' || credentials === undefined || seen.has(credentials.roleArn) || !namesAgent(rule, agent, groups)) continue;
    seen.set(credentials.roleArn, credentials);
  }
  const roles = [...seen.values()];
  byAgent.set(agent, roles);
  return roles;
}

function namesAgent(rule: CompiledAwsRule, agent: string, agentGroups: ReadonlySet<string>): boolean {
  const criterion = rule.criteria.find((c) => c.code === 'AGENT_MISMATCH');
  // Only the agent fields are read by the agent criterion.
  return criterion?.matches({ agent, agentGroups } as Parameters<typeof criterion.matches>[0]) ?? false;
}

/**
 * The decision for a request that is sts:GetCallerIdentity alone and that no rule matched, or
 * undefined when the default does not apply (another request, a rule decided, no single role).
 */
export function callerIdentityDefault(policy: CompiledPolicySet, request: RequestFacts, decision: Decision): Decision | undefined {
  const [need, ...more] = request.needs;
  if (need === undefined || more.length > 0 || need.action.toLowerCase() !== CALLER_IDENTITY_ACTION.toLowerCase()) return undefined;
  if (decision.reasons.some((r) => r.code !== 'NO_RULE_MATCHED')) return undefined;
  const roles = rolesOfAgent(policy, request.agent);
  const [role] = roles;
  if (role === undefined || roles.length > 1) return undefined;
  // The rule's session policy conditions are left out: AWS evaluates no policy for this call.
  const credentials: CredentialsSpec = { roleArn: role.roleArn, sessionDurationSeconds: role.sessionDurationSeconds, ...(role.sessionTags !== undefined && { sessionTags: role.sessionTags }) };
  return {
    effect: 'allow',
    rules: [CALLER_IDENTITY_RULE],
    reasons: [{ code: 'CALLER_IDENTITY_DEFAULT', action: CALLER_IDENTITY_ACTION, resource: '*', rule: CALLER_IDENTITY_RULE }],
    grants: [{ action: CALLER_IDENTITY_ACTION, resource: '*' }],
    credentials,
    approvals: [],
  };
}
