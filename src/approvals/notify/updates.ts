/**
 * Follow-ups to a notification: every review, the decision and what AWS answered, fed to each
 * notifier that can show them (the Slack app updates its message, Teams posts a follow-up card).
 *
 * The feed learns from the audit events this replica emits (approval.requested, .reviewed,
 * .expired; request.forwarded and request.failed carry the approval id and AWS's status) and
 * from the store's decision channel, which carries every replica's decisions. An undecided
 * request expires lazily (when someone next reads it), so the feed reads it once at its expiry
 * time to notice. Notifiers only act on requests they announced themselves, so several
 * replicas do not post the same follow-up; a failure is reported like a lost notice.
 */

import type { AuditEvent } from '../../audit/events.js';
import type { ApprovalRecord, ApprovalStore, DecisionEvent } from '../types.js';
import { NotifyError, type NoticeUpdate, type Notifier, type NotifyChannel } from './types.js';

export interface UpdateFeed {
  /** Every audit event this replica emits goes through here. */
  observe(event: AuditEvent): void;
  /** Every decision event from the store (all replicas). */
  decided(event: DecisionEvent): void;
  /** Stops the expiry timers. */
  close(): void;
}

export interface UpdateFeedDeps {
  readonly store: ApprovalStore;
  readonly notifiers: readonly Notifier[];
  readonly onFailure: (approvalId: string, channel: NotifyChannel, error: NotifyError) => void;
  readonly now?: () => number;
}

/** Expiry is noticed this long after the expiry time, so the store surely sees it as past. */
const EXPIRY_SLACK_MS = 250;

export function createUpdateFeed(deps: UpdateFeedDeps): UpdateFeed {
  const now = deps.now ?? Date.now;
  const listeners = deps.notifiers.filter((n) => n.update !== undefined);
  const timers = new Map<string, NodeJS.Timeout>();

  const deliver = (approvalId: string, update: NoticeUpdate): void => {
    for (const notifier of listeners) {
      void notifier.update?.(update).catch((error: unknown) => {
        const failure = error instanceof NotifyError ? error : new NotifyError(notifier.channel, `${notifier.channel} update failed: unexpected ${error instanceof Error ? error.name : 'error'}`, { reason: 'internal', attempts: 0 });
        try {
          deps.onFailure(approvalId, notifier.channel, failure);
        } catch {
          // Reporting must not break the feed.
        }
      });
    }
  };

  /** Reads the record, then delivers what `make` builds from it (nothing when the record is gone). */
  const withRecord = (id: string, make: (record: ApprovalRecord) => NoticeUpdate | undefined): void => {
    if (listeners.length === 0) return;
    void deps.store
      .get(id, now())
      .then((record) => {
        const update = record === undefined ? undefined : make(record);
        if (update !== undefined) deliver(id, update);
      })
      .catch(() => undefined); // The store being down is reported by the requests it fails.
  };

  const watchExpiry = (id: string, expiresAt: number): void => {
    if (listeners.length === 0 || timers.has(id)) return;
    const timer = setTimeout(() => {
      timers.delete(id);
      withRecord(id, (record) => (record.status === 'expired' ? { kind: 'decided', record } : undefined));
    }, Math.max(0, expiresAt - now()) + EXPIRY_SLACK_MS);
    timer.unref();
    timers.set(id, timer);
  };

  return {
    observe(event: AuditEvent): void {
      const id = typeof event.approvalId === 'string' ? event.approvalId : undefined;
      if (id === undefined) return;
      switch (event.event) {
        case 'approval.requested': {
          const expiresAt = typeof event.expiresAt === 'string' ? Date.parse(event.expiresAt) : NaN;
          if (Number.isFinite(expiresAt)) watchExpiry(id, expiresAt);
          return;
        }
        case 'approval.reviewed': {
          if (event.accepted !== true || typeof event.reviewer !== 'string') return;
          const reviewer = event.reviewer;
          withRecord(id, (record) => {
            const review = record.reviews.find((r) => r.reviewer === reviewer);
            return review === undefined ? undefined : { kind: 'reviewed', record, review };
          });
          return;
        }
        case 'approval.expired':
          withRecord(id, (record) => ({ kind: 'decided', record }));
          return;
        case 'request.forwarded':
        case 'request.failed': {
          const status = typeof event.upstreamStatus === 'number' ? event.upstreamStatus : undefined;
          const errorCode = typeof event.errorCode === 'string' ? event.errorCode : undefined;
          // A request still held, denied or expired never went upstream: the decision says it all.
          if (status === undefined && (errorCode === undefined || errorCode.startsWith('Approval'))) return;
          const answer = { at: now(), ...(status !== undefined && { status }), ...(status === undefined && errorCode !== undefined && { errorCode }) };
          withRecord(id, (record) => ({ kind: 'answered', record, answer }));
          return;
        }
        default:
          return;
      }
    },
    decided(event: DecisionEvent): void {
      if (event.status === 'pending' || event.status === 'consumed') return;
      withRecord(event.id, (record) => ({ kind: 'decided', record }));
    },
    close(): void {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}
