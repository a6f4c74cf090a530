/**
 * The demo's notification channel: a loopback receiver for countersign's signed webhook, so the
 * demo can show the review link of a held request the moment countersign sends it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER, type WebhookPayload } from '../approvals/notify/webhook.js';

export interface NoticeReceiver {
  readonly url: string;
  readonly secret: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

function genuine(secret: string, timestamp: string | undefined, signature: string | undefined, body: string): boolean {
  if (timestamp === undefined || signature === undefined || !/^\d+$/.test(timestamp)) return false;
  const expected = Buffer.from(signWebhook(secret, Number(timestamp), body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export async function receiveNotices(onNotice: (payload: WebhookPayload) => void): Promise<NoticeReceiver> {
  const secret = randomBytes(24).toString('base64url');
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const timestamp = req.headers[TIMESTAMP_HEADER];
      const signature = req.headers[SIGNATURE_HEADER];
      if (!genuine(secret, typeof timestamp === 'string' ? timestamp : undefined, typeof signature === 'string' ? signature : undefined, body)) {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(204).end();
      onNotice(JSON.parse(body) as WebhookPayload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/countersign`,
    secret,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
