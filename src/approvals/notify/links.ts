import { POST_DEFAULTS } from './post.js';
import type { ApprovalNotice, ReviewLink } from './types.js';

/**
 * The links to send: one per reviewer, in the notice's order, and only for reviewers some
 * requirement lists as eligible (owners of the agent are already left out there). A link for
 * anyone else is dropped rather than sent: it could only lead to a refusal, or worse, suggest
 * to the wrong person that their approval counts.
 */
export function eligibleLinks(notice: ApprovalNotice): ReviewLink[] {
  const eligible = new Set(notice.record.requirements.flatMap((requirement) => requirement.eligible));
  const seen = new Set<string>();
  const links: ReviewLink[] = [];
  for (const link of notice.links) {
    if (!eligible.has(link.reviewer.id) || seen.has(link.reviewer.id)) continue;
    seen.add(link.reviewer.id);
    links.push(link);
  }
  return links;
}

/** Timeout, attempts and backoff shared by every channel; see POST_DEFAULTS. */
export interface DeliveryOptions {
  readonly timeoutMs?: number;
  readonly attempts?: number;
  readonly backoffMs?: number;
}

export function resolveDelivery(options: DeliveryOptions): { timeoutMs: number; attempts: number; backoffMs: number } {
  return {
    timeoutMs: options.timeoutMs ?? POST_DEFAULTS.timeoutMs,
    attempts: options.attempts ?? POST_DEFAULTS.attempts,
    backoffMs: options.backoffMs ?? POST_DEFAULTS.backoffMs,
  };
}
