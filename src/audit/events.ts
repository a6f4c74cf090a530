/**
 * The audit event catalogue: stable names, each with the fields it carries (docs/audit.md lists
 * them; a test keeps the two in step). Every record also has `seq`, `at` (ISO time), `prev` and
 * `hash` from the chain, and `replica`.
 */
export const AUDIT_EVENTS = {
  'request.decided': 'a request was identified, classified and decided: agent, service, operation, actions, resources, rules, reasons, decision',
  'request.forwarded': 'an allowed (or approved) request went upstream: requestId, agent, actions, resources, stsSession, approvalId, approvers, upstreamStatus, durationsMs',
  'request.failed': 'a request was refused or failed: requestId, agent (when known), errorCode, error, status',
  'approval.requested': "a request was held for approval: approvalId, agent, actions, resources, service, operation, region, roleArn, intent (read or change), rules, eligible, expiresAt, maxWindowMinutes (when the rules allow approving for a while), agentReason and agentContext (the agent's own words, when sent)",
  'approval.reviewed': 'a reviewer approved or denied (or was refused): approvalId, agent, actions, resources, reviewer, decision, comment, via, windowMinutes (the window this reviewer chose), accepted, status or refusal; on the review that completes the quorum, approvedFor (once or window), window (minutes) and approvedUntil',
  'approval.consumed': "an approval let a held request go: approvalId, requestId, agent, usesLeft, approvedFor (once or window), window, approvedUntil, agentReason, agentContext",
  'approval.expired': 'an approval request expired undecided, or an approval ran out: approvalId',
  'approval.notify_failed': 'a notification could not be delivered: approvalId, channel, reason, status, attempts',
  'policy.loaded': 'a policy set took effect: trigger, policyHash, files, rules',
  'policy.rejected': 'a policy reload was refused (the last good set stays): keptPolicyHash, error',
  'agent.key_issued': 'an agent key appeared in the registry: agent, accessKeyId, expiresAt (absent: never expires)',
  'agent.key_revoked': 'an agent key was revoked: agent, accessKeyId, revokedAt',
  'agent.revoked': 'an agent was revoked (every key, and every credential issued to it up to revokedAt): agent, revokedAt',
  'admin.refused': 'the admin API refused a call (no or wrong operator token, bad request, off): errorCode, method, path, remoteAddress',
  'audit.gap': 'the durable log lost records (Redis restarted empty, or a failover lost its tail), written by the first replica to notice: lostFromSeq, lostThroughSeq, lastKnownHash, reason',
  'credentials.issued': 'the credential endpoint issued session credentials to a workload: agent, accessKeyId, issuer, subject, identity (the Directory entry), expiresAt, remoteAddress',
  'credentials.refused': 'the credential endpoint refused a workload: errorCode, error, issuer and subject (when the token was readable), agent (when mapped), remoteAddress',
} as const;

export type AuditEventName = keyof typeof AUDIT_EVENTS;

/** One event as emitted: its name and its fields (plain JSON, never a secret). */
export interface AuditEvent {
  readonly event: AuditEventName;
  readonly [field: string]: unknown;
}

/** A stored record: the event plus its place in the hash chain. */
export interface AuditRecord extends AuditEvent {
  readonly seq: number;
  readonly at: string;
  readonly replica: string;
  /** Hash of the record before (64 zeros for the first). */
  readonly prev: string;
  /** SHA-256 over the canonical JSON of every other field. */
  readonly hash: string;
}

