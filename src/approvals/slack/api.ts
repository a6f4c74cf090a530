/**
 * The few Slack Web API methods the app mode calls (chat.postMessage, chat.update,
 * chat.postEphemeral, views.open), as JSON POSTs with the bot token in the Authorization
 * header. The base URL is a setting so tests point it at a stand-in.
 *
 * Unlike the webhooks (post.ts), the answer is read: Slack answers HTTP 200 with
 * `{"ok": false, "error": "channel_not_found"}` on failure, and postMessage's `ts` names the
 * message to update later. Errors name the method and Slack's error code, never the token.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { NotifyError } from '../notify/types.js';

export const SLACK_API_DEFAULT = 'https://slack.com/api';

export interface SlackApiOptions {
  readonly token: string;
  /** https://slack.com/api unless a stand-in is wanted. */
  readonly baseUrl?: string;
  readonly timeoutMs?: number;
  /** Attempts for calls that may be retried (not views.open: its trigger id lives 3 seconds). */
  readonly attempts?: number;
  readonly backoffMs?: number;
}

export interface SlackAnswer {
  readonly ok: boolean;
  readonly error?: string;
  readonly ts?: string;
  readonly channel?: string;
  readonly view?: { readonly id?: string };
}

export class SlackApi {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoffMs: number;

  constructor(private readonly options: SlackApiOptions) {
    this.baseUrl = (options.baseUrl ?? SLACK_API_DEFAULT).replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.backoffMs = options.backoffMs ?? 500;
  }

  /** Calls `method`; resolves with Slack's answer when `ok`, rejects with a NotifyError otherwise. */
  async call(method: string, body: unknown, retry = true): Promise<SlackAnswer> {
    const attempts = retry ? this.attempts : 1;
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await this.once(method, body);
      if ('answer' in outcome) return outcome.answer;
      if (!outcome.retry || attempt >= attempts) {
        throw new NotifyError('slack', `slack ${method} failed after ${attempt} attempt(s): ${outcome.detail}`, {
          reason: outcome.reason,
          attempts: attempt,
          ...(outcome.status === undefined ? {} : { status: outcome.status }),
        });
      }
      await sleep(this.backoffMs * 2 ** (attempt - 1));
    }
  }

  private async once(method: string, body: unknown): Promise<{ answer: SlackAnswer } | { reason: 'http_status' | 'timeout' | 'network' | 'internal'; detail: string; retry: boolean; status?: number }> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      const response = await fetch(`${this.baseUrl}/${method}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.token}`, 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(body),
        redirect: 'manual',
        signal: abort.signal,
      });
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined);
        return { reason: 'http_status', detail: `HTTP ${response.status}`, retry: response.status === 429 || response.status >= 500, status: response.status };
      }
      const answer = (await response.json().catch(() => undefined)) as SlackAnswer | undefined;
      if (answer === undefined || typeof answer !== 'object') return { reason: 'internal', detail: 'the answer is not JSON', retry: false };
      if (answer.ok !== true) {
        // Slack's error codes are short identifiers (invalid_auth, channel_not_found): safe to log.
        const code = typeof answer.error === 'string' && /^[a-z_]{1,64}$/.test(answer.error) ? answer.error : 'unknown_error';
        return { reason: 'http_status', detail: `Slack answered ${code}`, retry: code === 'ratelimited' || code === 'internal_error', status: 200 };
      }
      return { answer };
    } catch {
      return abort.signal.aborted ? { reason: 'timeout', detail: `no answer within ${this.timeoutMs} ms`, retry: true } : { reason: 'network', detail: 'network error', retry: true };
    } finally {
      clearTimeout(timer);
    }
  }
}
