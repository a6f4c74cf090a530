import type { ApprovalDraft, ApprovalRecord, ConsumeOutcome, ReviewOptions, ReviewOutcome } from './types.js';

/**
 * The approval state machine, as pure functions (the in-memory store uses them; the Redis
 * store's Lua scripts implement the same rules server-side, and the same contract tests
 * hold both to them):
 *
 *   pending ─(quorum of approvals)→ approved ─(uses run out)→ consumed
 *   pending ─(any deny)→ denied
 *   pending ─(pending timeout)→ expired;  approved ─(validity ends)→ expired
 *
 * A read (types.ts, Intent) is one intent: its first use takes one of its uses and it then
 * serves the same read until its validity ends, when it becomes consumed (expired if unused).
 *
 * An approval for a while (a window: every approving reviewer chose N minutes, up to the rules'
 * maxWindow) serves the same binding (binding.ts, windowKey: the same agent, scope, grants and
 * parameters) any number of times until the shortest window chosen ends, then becomes consumed
 * (expired if unused). It is longer, never broader: the binding is re-checked on every use.
 */

/** Whether a record serves until its validity ends rather than counting uses down. */
export function servesUntilExpiry(record: ApprovalRecord): boolean {
  return record.intent === 'read' || record.windowMinutes !== undefined;
}

/** A new pending record for a draft. */
export function newRecord(id: string, draft: ApprovalDraft, now: number): ApprovalRecord {
  return {
    id,
    fingerprint: draft.fingerprint,
    intent: draft.intent,
    status: 'pending',
    context: draft.context,
    requirements: draft.requirements,
    reviews: [],
    createdAt: now,
    expiresAt: now + draft.pendingTimeoutMs,
    usesLeft: draft.maxUses,
    ...(draft.maxWindowMs !== undefined && { maxWindowMs: draft.maxWindowMs }),
    ...(draft.windowKey !== undefined && { windowKey: draft.windowKey }),
  };
}

/** Expiry applied as of `now`; returns the same object when nothing changed. */
export function refreshed(record: ApprovalRecord, now: number): ApprovalRecord {
  if (record.status === 'pending' && now >= record.expiresAt) return { ...record, status: 'expired' };
  if (record.status === 'approved' && record.approvedUntil !== undefined && now >= record.approvedUntil) {
    return { ...record, status: servesUntilExpiry(record) && record.consumedAt !== undefined ? 'consumed' : 'expired' };
  }
  return record;
}

/**
 * A record a retry of the same request should join instead of opening a new one: still
 * pending, approved with uses left, or denied within its original window (so a denied agent
 * cannot re-ask at once and flood the reviewers).
 */
export function isLive(record: ApprovalRecord, now: number): boolean {
  if (record.status === 'pending' || (record.status === 'approved' && (servesUntilExpiry(record) || record.usesLeft > 0))) return true;
  return record.status === 'denied' && now < record.expiresAt;
}

/** Every requirement has its quorum of approvals from its own eligible reviewers. */
function quorumMet(record: ApprovalRecord, reviews: ApprovalRecord['reviews']): boolean {
  return record.requirements.every((req) => reviews.filter((r) => r.decision === 'approve' && req.eligible.includes(r.reviewer)).length >= req.quorum);
}

/** A record approved for a while that still serves its window's binding as of `now`. */
export function windowOpen(record: ApprovalRecord, now: number): boolean {
  return record.status === 'approved' && record.windowMinutes !== undefined && record.approvedUntil !== undefined && now < record.approvedUntil;
}

/** The window a quorum approved: the shortest chosen, and none when any approver chose "once". */
function windowOf(reviews: ApprovalRecord['reviews']): number | undefined {
  const approvals = reviews.filter((r) => r.decision === 'approve');
  if (approvals.length === 0 || approvals.some((r) => r.windowMinutes === undefined)) return undefined;
  return Math.min(...approvals.map((r) => r.windowMinutes ?? 0));
}

/** Why a requested window is refused, if it is: only an approval, only where the rules allow it, never past maxWindow. */
export function windowRefusal(record: Pick<ApprovalRecord, 'maxWindowMs'>, decision: 'approve' | 'deny', windowMinutes: number | undefined): 'window_not_allowed' | 'window_too_long' | undefined {
  if (windowMinutes === undefined) return undefined;
  if (decision !== 'approve' || record.maxWindowMs === undefined || !Number.isSafeInteger(windowMinutes) || windowMinutes < 1) return 'window_not_allowed';
  return windowMinutes * 60_000 > record.maxWindowMs ? 'window_too_long' : undefined;
}

export function applyReview(record: ApprovalRecord, reviewer: string, decision: 'approve' | 'deny', comment: string, now: number, options: ReviewOptions = {}): ReviewOutcome {
  if (record.status === 'expired') return { ok: false, reason: 'expired', record };
  if (record.status !== 'pending') return { ok: false, reason: 'not_pending', record };
  // Owners are never eligible (removed when the record was made); say so plainly.
  if (record.context.owners.includes(reviewer)) return { ok: false, reason: 'owner', record };
  if (!record.requirements.some((req) => req.eligible.includes(reviewer))) return { ok: false, reason: 'not_eligible', record };
  // One review per reviewer: a reviewer in several groups still counts once.
  if (record.reviews.some((r) => r.reviewer === reviewer)) return { ok: false, reason: 'already_reviewed', record };
  const refusal = windowRefusal(record, decision, options.windowMinutes);
  if (refusal !== undefined) return { ok: false, reason: refusal, record };
  const reviews = [...record.reviews, { reviewer, decision, comment, at: now, ...(options.windowMinutes !== undefined && { windowMinutes: options.windowMinutes }) }];
  if (decision === 'deny') return { ok: true, record: { ...record, reviews, status: 'denied', decidedAt: now } };
  if (!quorumMet(record, reviews)) return { ok: true, record: { ...record, reviews } };
  const window = windowOf(reviews);
  if (window !== undefined) return { ok: true, record: { ...record, reviews, status: 'approved', decidedAt: now, approvedUntil: now + window * 60_000, windowMinutes: window } };
  const validity = record.expiresAt - record.createdAt;
  return { ok: true, record: { ...record, reviews, status: 'approved', decidedAt: now, approvedUntil: now + validity } };
}

export function useOnce(record: ApprovalRecord, now: number, requestId?: string): ConsumeOutcome {
  if (record.status === 'expired') return { ok: false, reason: 'expired', record };
  if (record.status === 'consumed') return { ok: false, reason: 'used_up', record };
  if (record.status !== 'approved') return { ok: false, reason: 'not_approved', record };
  const used = { ...record, timesUsed: (record.timesUsed ?? 0) + 1, ...(requestId !== undefined && { lastUse: { requestId, at: now } }) };
  // A window serves its binding until it closes: no use is counted down.
  if (record.windowMinutes !== undefined) return { ok: true, record: { ...used, consumedAt: record.consumedAt ?? now } };
  if (record.intent === 'read') {
    // One intent, one use: the first request takes it, the rest of the same read ride on it.
    return { ok: true, record: record.consumedAt === undefined ? { ...used, usesLeft: Math.max(0, record.usesLeft - 1), consumedAt: now } : used };
  }
  const usesLeft = record.usesLeft - 1;
  return { ok: true, record: usesLeft > 0 ? { ...used, usesLeft } : { ...used, usesLeft, status: 'consumed', consumedAt: now } };
}

/** AWS's answer to the request an approval let go, kept only while that request is its lastUse. */
export function withOutcome(record: ApprovalRecord, requestId: string, upstreamStatus: number | undefined): ApprovalRecord {
  if (record.lastUse?.requestId !== requestId) return record;
  return { ...record, lastUse: { ...record.lastUse, ...(upstreamStatus !== undefined && { upstreamStatus }) } };
}
