/**
 * The Slack app's channel: posts the held request with chat.postMessage (mentions and Approve /
 * Deny buttons), remembers where it went, and keeps that message true with chat.update after
 * every review, on the decision and when AWS answers; each review is also posted in the
 * message's thread. A message posted by another replica is learnt from the click that names it
 * (remember), so reviews made in Slack update it on any replica.
 */

import type { ReviewerSpec } from '../../policy/types.js';
import type { ApprovalNotice, NoticeUpdate, Notifier, UpstreamAnswer } from '../notify/types.js';
import type { ApprovalRecord } from '../types.js';
import type { SlackApi } from './api.js';
import { buildAppMessage, threadText } from './message.js';

export interface SlackAppNotifierDeps {
  readonly api: SlackApi;
  /** Channel id or name to post in. */
  readonly channel: string;
  readonly reviewers: () => ReadonlyMap<string, ReviewerSpec>;
  /** Base URL of the review listener as reviewers reach it. */
  readonly reviewBaseUrl: () => string;
  readonly now?: () => number;
}

interface Posted {
  readonly channel: string;
  readonly ts: string;
  answer?: UpstreamAnswer;
  /** Forgotten after this (the record's expiry or approval end, plus a day). */
  keepUntil: number;
}

const KEEP_MS = 24 * 60 * 60 * 1000;

export interface SlackAppNotifier extends Notifier {
  /** Where the request's message is, as a click on it told us. */
  remember(approvalId: string, channel: string, ts: string, record?: ApprovalRecord): void;
  /** Posts `text` (already escaped mrkdwn) as ephemeral to one user in a channel. */
  ephemeral(channel: string, user: string, text: string): Promise<void>;
}

export function createSlackAppNotifier(deps: SlackAppNotifierDeps): SlackAppNotifier {
  const now = deps.now ?? Date.now;
  const posted = new Map<string, Posted>();
  // One chat.update at a time per message, in order, so a late update never overwrites a newer one.
  const chains = new Map<string, Promise<void>>();

  const message = (record: ApprovalRecord, answer?: UpstreamAnswer) =>
    buildAppMessage({ record, reviewers: deps.reviewers(), pageUrl: `${deps.reviewBaseUrl().replace(/\/$/, '')}/approvals/${record.id}`, ...(answer !== undefined && { aws: answer }) });

  const keepUntil = (record: ApprovalRecord): number => Math.max(record.expiresAt, record.approvedUntil ?? 0) + KEEP_MS;

  const sweep = (): void => {
    const t = now();
    for (const [id, entry] of posted) if (entry.keepUntil < t) posted.delete(id);
  };

  const serial = (id: string, work: () => Promise<void>): Promise<void> => {
    const next = (chains.get(id) ?? Promise.resolve()).catch(() => undefined).then(work);
    chains.set(id, next);
    void next.finally(() => {
      if (chains.get(id) === next) chains.delete(id);
    }).catch(() => undefined);
    return next;
  };

  const refresh = (entry: Posted, record: ApprovalRecord): Promise<void> =>
    serial(record.id, async () => {
      entry.keepUntil = Math.max(entry.keepUntil, keepUntil(record));
      const { text, blocks } = message(record, entry.answer);
      await deps.api.call('chat.update', { channel: entry.channel, ts: entry.ts, text, blocks });
    });

  return {
    channel: 'slack',
    async send(notice: ApprovalNotice): Promise<void> {
      sweep();
      const { text, blocks } = message(notice.record);
      const answer = await deps.api.call('chat.postMessage', { channel: deps.channel, text, blocks, unfurl_links: false, unfurl_media: false });
      if (typeof answer.ts !== 'string') return;
      posted.set(notice.record.id, { channel: typeof answer.channel === 'string' ? answer.channel : deps.channel, ts: answer.ts, keepUntil: keepUntil(notice.record) });
    },
    async update(update: NoticeUpdate): Promise<void> {
      const entry = posted.get(update.record.id);
      if (entry === undefined) return;
      if (update.kind === 'answered') entry.answer = update.answer;
      await refresh(entry, update.record);
      if (update.kind === 'reviewed') {
        await deps.api.call('chat.postMessage', { channel: entry.channel, thread_ts: entry.ts, text: threadText(update.review, update.record, deps.reviewers()), unfurl_links: false, unfurl_media: false });
      }
    },
    remember(approvalId: string, channel: string, ts: string, record?: ApprovalRecord): void {
      if (posted.has(approvalId)) return;
      sweep();
      posted.set(approvalId, { channel, ts, keepUntil: record === undefined ? now() + KEEP_MS : keepUntil(record) });
    },
    async ephemeral(channel: string, user: string, text: string): Promise<void> {
      await deps.api.call('chat.postEphemeral', { channel, user, text });
    },
  };
}
