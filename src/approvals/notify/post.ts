/**
 * The one way notifications leave countersign: a JSON POST with a per-attempt timeout and
 * retries with exponential backoff. Uses Node's global fetch (undici).
 *
 * Destination URLs are secrets (Slack and Teams webhook URLs embed their tokens, and a generic
 * webhook URL may too), so nothing here puts the URL, or an underlying error's message that may
 * quote it, into an error. Response bodies are dropped unread: a receiver may echo the request,
 * and the request holds the reviewers' secret links.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { NotifyError, type NotifyChannel, type NotifyFailure } from './types.js';

export interface PostOptions {
  /** Names the channel in errors. */
  readonly channel: NotifyChannel;
  /** Extra request headers; content-type is always application/json. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Limit on each attempt, connection to response headers. */
  readonly timeoutMs: number;
  /** Attempts in all, at least 1. */
  readonly attempts: number;
  /** Wait before the second attempt; doubles before each further one. */
  readonly backoffMs: number;
}

export interface PostResult {
  readonly status: number;
  readonly attempts: number;
}

export const POST_DEFAULTS = { timeoutMs: 5_000, attempts: 3, backoffMs: 500 } as const;

/** A receiver's Retry-After (on 429 and 503) lengthens the backoff, up to this much. */
export const MAX_RETRY_AFTER_MS = 10_000;

interface AttemptFailure {
  readonly reason: NotifyFailure;
  readonly detail: string;
  readonly retry: boolean;
  readonly status?: number;
  readonly retryAfterMs?: number;
}

/**
 * POSTs `body` (a string is sent as is, as already-serialised JSON; anything else goes through
 * JSON.stringify) and resolves on a 2xx. Retries network errors, timeouts, 408, 429 and 5xx;
 * any other status, redirects included (they are not followed: a 307 would replay the body to
 * another host), fails at once. Rejects with a NotifyError.
 */
export async function postJson(url: string, body: unknown, options: PostOptions): Promise<PostResult> {
  const { channel } = options;
  const attempts = Math.max(1, Math.floor(options.attempts));
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  if (!isHttpUrl(url)) {
    throw new NotifyError(channel, `${channel} notification failed: the destination is not an http(s) URL`, { reason: 'internal', attempts: 0 });
  }
  const headers = { ...lowerCaseKeys(options.headers ?? {}), 'content-type': 'application/json' };

  for (let attempt = 1; ; attempt += 1) {
    const failure = await attemptPost(url, text, headers, options.timeoutMs);
    if (typeof failure === 'number') return { status: failure, attempts: attempt };
    if (!failure.retry || attempt >= attempts) {
      const tries = attempt === 1 ? '1 attempt' : `${attempt} attempts`;
      throw new NotifyError(channel, `${channel} notification failed after ${tries}: ${failure.detail}`, {
        reason: failure.reason,
        attempts: attempt,
        ...(failure.status === undefined ? {} : { status: failure.status }),
      });
    }
    const backoff = options.backoffMs * 2 ** (attempt - 1);
    await sleep(Math.max(backoff, failure.retryAfterMs ?? 0));
  }
}

/** One attempt: the 2xx status on success, else what went wrong. */
async function attemptPost(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number | AttemptFailure> {
  let response: Response;
  // A timer cleared on completion, not AbortSignal.timeout: that one fires (and builds an
  // error) even after the delivery finished, once per notice.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new DOMException('timed out', 'TimeoutError')), timeoutMs);
  try {
    response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: abort.signal });
  } catch (error) {
    if (isTimeout(error) || abort.signal.aborted) return { reason: 'timeout', detail: `no response within ${timeoutMs} ms`, retry: true };
    const code = errorCode(error);
    return { reason: 'network', detail: code === undefined ? 'network error' : `network error ${code}`, retry: true };
  } finally {
    clearTimeout(timer);
  }
  try {
    await response.body?.cancel();
  } catch {
    // The status is what counts.
  }
  const { status } = response;
  if (status >= 200 && status < 300) return status;
  const retry = status === 408 || status === 429 || status >= 500;
  const retryAfterMs = retry ? retryAfter(response.headers.get('retry-after')) : undefined;
  return { reason: 'http_status', detail: `HTTP ${status}`, retry, status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

function isHttpUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

/** The system or undici error code (ECONNREFUSED, UND_ERR_SOCKET, ...), never a message. */
function errorCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(code)) return code;
  }
  return undefined;
}

function retryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}
