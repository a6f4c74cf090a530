import type { AuditEmitter } from '../audit/emitter.js';
import type { ApprovalStore, ReviewOutcome } from './types.js';

/** Where a review came from: the review page, the JSON API, or a chat app (Slack). */
export type ReviewChannel = 'page' | 'api' | 'slack';

export interface ReviewRequest {
  readonly id: string;
  /** The reviewer id, already proven (link token, trusted header, API token, verified Slack user). */
  readonly reviewer: string;
  readonly decision: 'approve' | 'deny';
  readonly comment: string;
  readonly via: ReviewChannel;
  /** Approve for a while: this many minutes, up to the rules' maxWindow. Absent: approve once. */
  readonly windowMinutes?: number;
}

export interface ReviewDeps {
  readonly store: ApprovalStore;
  readonly audit: AuditEmitter;
  readonly now: () => number;
}

export const COMMENT_LIMIT = 1000;

/** What a refused review tells the reviewer (page, API, chat). */
export const REVIEW_REFUSALS: Record<Exclude<ReviewOutcome, { ok: true }>['reason'], string> = {
  not_found: 'There is no such approval request.',
  not_pending: 'This request was already decided.',
  expired: 'This request expired before it was decided.',
  not_eligible: 'You are not one of the reviewers this request needs.',
  owner: 'You own this agent, so you may not review its requests.',
  already_reviewed: 'You have already reviewed this request; each reviewer counts once.',
  window_not_allowed: 'This request can only be approved once: its rule sets no approval.maxWindow.',
  window_too_long: "That window is longer than the rule's approval.maxWindow allows.",
};

/**
 * The one way a review is made, whichever channel it came through: the store applies it
 * atomically (quorum, one review per reviewer, no owner, the window within maxWindow), and the
 * durable audit log records it with its comment and window, accepted or not, so the why outlives
 * the approval record.
 */
export async function reviewApproval(deps: ReviewDeps, request: ReviewRequest): Promise<ReviewOutcome> {
  const comment = request.comment.slice(0, COMMENT_LIMIT);
  const options = request.windowMinutes === undefined ? {} : { windowMinutes: request.windowMinutes };
  const outcome = await deps.store.review(request.id, request.reviewer, request.decision, comment, deps.now(), options);
  const record = outcome.record;
  const approved = outcome.ok && record?.status === 'approved';
  deps.audit({
    event: 'approval.reviewed',
    approvalId: request.id,
    ...(record !== undefined && { agent: record.context.agent, actions: record.context.actions, resources: record.context.resources }),
    reviewer: request.reviewer,
    decision: request.decision,
    comment,
    via: request.via,
    ...(request.windowMinutes !== undefined && { windowMinutes: request.windowMinutes }),
    accepted: outcome.ok,
    ...(outcome.ok ? { status: outcome.record.status } : { refusal: outcome.reason }),
    // The quorum's outcome: once, or for how long the same binding is approved.
    ...(approved && record.approvedUntil !== undefined && { approvedFor: record.windowMinutes === undefined ? 'once' : 'window', approvedUntil: new Date(record.approvedUntil).toISOString() }),
    ...(approved && record.windowMinutes !== undefined && { window: record.windowMinutes }),
  });
  return outcome;
}

/** A window as a reviewer typed or chose it: whole minutes, or undefined for "once"; NaN when unreadable (refused). */
export function parseWindowMinutes(value: string | number | null | undefined): number | undefined {
  if (value === undefined || value === null || value === '' || value === 'once') return undefined;
  const minutes = typeof value === 'number' ? value : /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  return Number.isSafeInteger(minutes) ? minutes : Number.NaN;
}
