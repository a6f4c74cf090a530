/**
 * Notification channels for held requests. A notice tells reviewers that an approval is
 * pending and gives each eligible reviewer a link to the review page. Notifiers only ever send
 * links (a GET opens the page; deciding is a POST made on the page), never approve/deny actions.
 */

import type { ApprovalRecord, Review } from '../types.js';
import type { ReviewerSpec } from '../../policy/types.js';

/** A per-reviewer review page link. The URL carries a secret link token: never log it. */
export interface ReviewLink {
  readonly reviewer: ReviewerSpec;
  readonly url: string;
}

export interface ApprovalNotice {
  readonly record: ApprovalRecord;
  /** Links for the reviewers to notify; notifiers drop any reviewer no requirement lists as eligible. */
  readonly links: readonly ReviewLink[];
  readonly reviewPageBaseUrl: string;
}

export type NotifyChannel = 'webhook' | 'slack' | 'teams';

export interface Notifier {
  readonly channel: NotifyChannel;
  /** Delivers the notice, retrying as configured; rejects with a NotifyError when it cannot. */
  send(notice: ApprovalNotice): Promise<void>;
  /** What happened since (updates.ts); channels that only announce leave it out. Rejects with a NotifyError. */
  update?(update: NoticeUpdate): Promise<void>;
}

/** What the request's upstream call came to: AWS's status, or the refusal that stopped it first. */
export interface UpstreamAnswer {
  readonly status?: number;
  readonly errorCode?: string;
  readonly at: number;
}

/**
 * A change to a request already announced: a review was recorded (on any channel: page, API,
 * Slack), the request was decided (approved, denied, expired), or the approved request went
 * upstream and AWS answered.
 */
export type NoticeUpdate =
  | { readonly kind: 'reviewed'; readonly record: ApprovalRecord; readonly review: Review }
  | { readonly kind: 'decided'; readonly record: ApprovalRecord }
  | { readonly kind: 'answered'; readonly record: ApprovalRecord; readonly answer: UpstreamAnswer };

/** Why a notification failed, for audit records and metrics. */
export type NotifyFailure = 'http_status' | 'timeout' | 'network' | 'internal';

/**
 * A notification that could not be delivered. The message names the channel and the HTTP
 * status or network error code, never the destination URL (Slack and Teams webhook URLs embed
 * their credentials) and never the response body (a receiver may echo the review links back).
 * Every field is safe to log and to serialise.
 */
export class NotifyError extends Error {
  override readonly name = 'NotifyError';
  readonly channel: NotifyChannel;
  readonly reason: NotifyFailure;
  readonly status?: number;
  /** Attempts made before giving up (0 when the notice could not even be built). */
  readonly attempts: number;

  constructor(channel: NotifyChannel, message: string, details: { reason: NotifyFailure; attempts: number; status?: number }) {
    super(message);
    this.channel = channel;
    this.reason = details.reason;
    this.attempts = details.attempts;
    if (details.status !== undefined) this.status = details.status;
  }
}

export function isNotifyError(error: unknown): error is NotifyError {
  return error instanceof NotifyError;
}
