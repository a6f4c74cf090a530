/**
 * Generic webhook: a signed JSON POST for any receiver (a chat bot, a ticketing system, an
 * on-call tool).
 *
 * Body:
 *   { "type": "approval.requested",
 *     "approval": { "id", "status", "createdAt", "expiresAt" (ISO 8601), "context", "requirements" },
 *     "reviewLinks": [ { "reviewer": "<reviewer id>", "name": "<display name>", "url": "<review page link>" } ] }
 * The context is sent as recorded: agent-controlled strings (agentReason, agentContext,
 * parametersPreview, resources) are unescaped and the receiver must treat them as untrusted
 * text. Each review link carries a secret link token: store and show them accordingly.
 *
 * Headers:
 *   content-type: application/json
 *   x-countersign-timestamp: <unix seconds when the notice was signed>
 *   x-countersign-signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *
 * Verifying, on the receiver:
 *   1. Read the raw body bytes as received (before any JSON parsing or re-serialising).
 *   2. Reject if the timestamp header is not an integer, or differs from the receiver's clock
 *      by more than 300 seconds (5 minutes): that bounds replays of a captured request.
 *   3. Compute hex HMAC-SHA256 with the shared secret over `${timestamp}.${rawBody}`, and compare
 *      it with the header's value after `v1=` in constant time, e.g. in Node:
 *        const expected = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest();
 *        const given = Buffer.from(header.slice(3), 'hex');
 *        ok = header.startsWith('v1=') && given.length === expected.length && timingSafeEqual(given, expected);
 *   4. Optionally drop duplicates by approval id: a retry after a timeout may deliver twice, and
 *      a retry carries the same timestamp and signature as the first attempt.
 * The `v1=` prefix leaves room for a second scheme during a secret or algorithm rotation.
 */

import { createHmac } from 'node:crypto';
import type { ApprovalContext, ApprovalStatus, Requirement } from '../types.js';
import { eligibleLinks, resolveDelivery, type DeliveryOptions } from './links.js';
import { postJson } from './post.js';
import type { ApprovalNotice, Notifier } from './types.js';

export const WEBHOOK_EVENT = 'approval.requested';
export const TIMESTAMP_HEADER = 'x-countersign-timestamp';
export const SIGNATURE_HEADER = 'x-countersign-signature';
/** How far a receiver should let the timestamp stray from its clock. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export interface WebhookPayload {
  readonly type: typeof WEBHOOK_EVENT;
  readonly approval: {
    readonly id: string;
    readonly status: ApprovalStatus;
    readonly createdAt: string;
    readonly expiresAt: string;
    readonly context: ApprovalContext;
    readonly requirements: readonly Requirement[];
  };
  readonly reviewLinks: readonly { readonly reviewer: string; readonly name: string; readonly url: string }[];
}

export interface WebhookOptions extends DeliveryOptions {
  readonly url: string;
  /** Shared HMAC secret; required. */
  readonly secret: string;
}

export function buildWebhookPayload(notice: ApprovalNotice): WebhookPayload {
  const { record } = notice;
  return {
    type: WEBHOOK_EVENT,
    approval: {
      id: record.id,
      status: record.status,
      createdAt: new Date(record.createdAt).toISOString(),
      expiresAt: new Date(record.expiresAt).toISOString(),
      context: record.context,
      requirements: record.requirements,
    },
    reviewLinks: eligibleLinks(notice).map((link) => ({ reviewer: link.reviewer.id, name: link.reviewer.displayName, url: link.url })),
  };
}

/** `v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`. */
export function signWebhook(secret: string, timestamp: number, rawBody: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')}`;
}

export function createWebhookNotifier(options: WebhookOptions): Notifier {
  if (options.secret.length === 0) throw new Error('The notification webhook needs a signing secret');
  const { url, secret } = options;
  const delivery = resolveDelivery(options);
  return {
    channel: 'webhook',
    async send(notice: ApprovalNotice): Promise<void> {
      const rawBody = JSON.stringify(buildWebhookPayload(notice));
      const timestamp = Math.floor(Date.now() / 1000);
      await postJson(url, rawBody, {
        channel: 'webhook',
        headers: { [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: signWebhook(secret, timestamp, rawBody) },
        ...delivery,
      });
    },
  };
}
