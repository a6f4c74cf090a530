/**
 * Notification channels for held requests: a signed generic webhook, Slack and Microsoft Teams.
 * A failed notification loses nothing: the request stays pending (reviewers can still find it
 * on the review page) and the caller audits the failure.
 */

import { createSlackNotifier } from './slack.js';
import { createTeamsNotifier } from './teams.js';
import { NotifyError, type ApprovalNotice, type Notifier, type NotifyChannel } from './types.js';
import { createWebhookNotifier } from './webhook.js';

export { NotifyError, isNotifyError } from './types.js';
export type { ApprovalNotice, NoticeUpdate, Notifier, NotifyChannel, NotifyFailure, ReviewLink, UpstreamAnswer } from './types.js';
export { createUpdateFeed, type UpdateFeed } from './updates.js';
export { buildSlackMessage, createSlackNotifier } from './slack.js';
export { buildTeamsMessage, createTeamsNotifier } from './teams.js';
export { buildWebhookPayload, createWebhookNotifier, signWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER, SIGNATURE_TOLERANCE_SECONDS } from './webhook.js';
export { POST_DEFAULTS, postJson } from './post.js';

export interface NotifySettings {
  readonly webhookUrl?: string;
  /** HMAC secret for the generic webhook; required with webhookUrl. */
  readonly webhookSecret?: string;
  readonly slackWebhookUrl?: string;
  readonly teamsWebhookUrl?: string;
  /** Per attempt; default 5000. */
  readonly timeoutMs?: number;
  /** Attempts in all; default 3. */
  readonly attempts?: number;
  /** Before the second attempt, doubling after; default 500. */
  readonly backoffMs?: number;
}

/**
 * One notifier per configured channel. Throws on a URL that is not http(s) or a webhook without
 * a secret; the messages name the setting, never its value.
 */
export function createNotifiers(settings: NotifySettings): Notifier[] {
  const delivery = {
    ...(settings.timeoutMs === undefined ? {} : { timeoutMs: settings.timeoutMs }),
    ...(settings.attempts === undefined ? {} : { attempts: settings.attempts }),
    ...(settings.backoffMs === undefined ? {} : { backoffMs: settings.backoffMs }),
  };
  const notifiers: Notifier[] = [];
  if (settings.webhookUrl !== undefined) {
    checkUrl('webhookUrl', settings.webhookUrl);
    if (settings.webhookSecret === undefined || settings.webhookSecret.length === 0) {
      throw new Error('webhookSecret is required with webhookUrl: receivers verify notices with it');
    }
    notifiers.push(createWebhookNotifier({ url: settings.webhookUrl, secret: settings.webhookSecret, ...delivery }));
  }
  if (settings.slackWebhookUrl !== undefined) {
    checkUrl('slackWebhookUrl', settings.slackWebhookUrl);
    notifiers.push(createSlackNotifier({ url: settings.slackWebhookUrl, ...delivery }));
  }
  if (settings.teamsWebhookUrl !== undefined) {
    checkUrl('teamsWebhookUrl', settings.teamsWebhookUrl);
    notifiers.push(createTeamsNotifier({ url: settings.teamsWebhookUrl, ...delivery }));
  }
  return notifiers;
}

/**
 * Sends the notice on every channel at once and resolves when all have finished. Never
 * rejects: each failure goes to `onFailure` (always a NotifyError, safe to log), and an
 * exception thrown by `onFailure` itself is swallowed.
 */
export async function notifyAll(
  notifiers: readonly Notifier[],
  notice: ApprovalNotice,
  onFailure: (channel: NotifyChannel, error: NotifyError) => void,
): Promise<void> {
  await Promise.all(
    notifiers.map(async (notifier) => {
      try {
        await notifier.send(notice);
      } catch (error) {
        const failure =
          error instanceof NotifyError
            ? error
            : // Not from postJson: a bug. Its message is not shown, as it might quote a URL.
              new NotifyError(notifier.channel, `${notifier.channel} notification failed: unexpected ${error instanceof Error ? error.name : 'error'}`, {
                reason: 'internal',
                attempts: 0,
              });
        try {
          onFailure(notifier.channel, failure);
        } catch {
          // Reporting must not turn a lost notification into a lost request.
        }
      }
    }),
  );
}

function checkUrl(setting: string, value: string): void {
  let protocol: string;
  try {
    protocol = new URL(value).protocol;
  } catch {
    throw new Error(`${setting} is not a valid URL`);
  }
  if (protocol !== 'https:' && protocol !== 'http:') throw new Error(`${setting} must be an http(s) URL`);
}
