import type { ApprovalDraft, ApprovalRecord, ConsumeOutcome, ReviewOutcome } from './types.js';

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
 */

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
  };
}

/** Expiry applied as of `now`; returns the same object when nothing changed. */
export function refreshed(record: ApprovalRecord, now: number): ApprovalRecord {
  if (record.status === 'pending' && now >= record.expiresAt) return { ...record, status: 'expired' };
  if (record.status === 'approved' && record.approvedUntil !== undefined && now >= record.approvedUntil) {
    return { ...record, status: record.intent === 'read' && record.consumedAt !== undefined ? 'consumed' : 'expired' };
  }
  return record;
}

/**
 * A record a retry of the same request should join instead of opening a new one: still
 * pending, approved with uses left, or denied within its original window (so a denied agent
 * cannot re-ask at once and flood the reviewers).
 */
export function isLive(record: ApprovalRecord, now: number): boolean {
  if (record.status === 'pending' || (record.status === 'approved' && (record.intent === 'read' || record.usesLeft > 0))) return true;
  return record.status === 'denied' && now < record.expiresAt;
}

/** Every requirement has its quorum of approvals from its own eligible reviewers. */
function quorumMet(record: ApprovalRecord, reviews: ApprovalRecord['reviews']): boolean {
  return record.requirements.every((req) => reviews.filter((r) => r.decision === 'approve' && req.eligible.includes(r.reviewer)).length >= req.quorum);
}

export function applyReview(record: ApprovalRecord, reviewer: string, decision: 'approve' | 'deny', comment: string, now: number): ReviewOutcome {
  if (record.status === 'expired') return { ok: false, reason: 'expired', record };
  if (record.status !== 'pending') return { ok: false, reason: 'not_pending', record };
  // Owners are never eligible (removed when the record was made); say so plainly.
  if (record.context.owners.includes(reviewer)) return { ok: false, reason: 'owner', record };
  if (!record.requirements.some((req) => req.eligible.includes(reviewer))) return { ok: false, reason: 'not_eligible', record };
  // One review per reviewer: a reviewer in several groups still counts once.
  if (record.reviews.some((r) => r.reviewer === reviewer)) return { ok: false, reason: 'already_reviewed', record };
  const reviews = [...record.reviews, { reviewer, decision, comment, at: now }];
  if (decision === 'deny') return { ok: true, record: { ...record, reviews, status: 'denied', decidedAt: now } };
  if (!quorumMet(record, reviews)) return { ok: true, record: { ...record, reviews } };
  const validity = record.expiresAt - record.createdAt;
  return { ok: true, record: { ...record, reviews, status: 'approved', decidedAt: now, approvedUntil: now + validity } };
}

export function useOnce(record: ApprovalRecord, now: number): ConsumeOutcome {
  if (record.status === 'expired') return { ok: false, reason: 'expired', record };
  if (record.status === 'consumed') return { ok: false, reason: 'used_up', record };
  if (record.status !== 'approved') return { ok: false, reason: 'not_approved', record };
  if (record.intent === 'read') {
    // One intent, one use: the first request takes it, the rest of the same read ride on it.
    return { ok: true, record: record.consumedAt === undefined ? { ...record, usesLeft: Math.max(0, record.usesLeft - 1), consumedAt: now } : record };
  }
  const usesLeft = record.usesLeft - 1;
  return { ok: true, record: usesLeft > 0 ? { ...record, usesLeft } : { ...record, usesLeft, status: 'consumed', consumedAt: now } };
}
