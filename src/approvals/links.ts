import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Reviewer credentials, all HMACs under one review key (derived from the server key, so every
 * replica that shares the data directory or secret agrees):
 *  - link tokens: in notifications, bound to one request and one reviewer, expiring with it;
 *  - CSRF tokens: in the review page's form, bound to request and reviewer;
 *  - API tokens: for the JSON API and CLI, bound to a reviewer.
 * Agent keys are a different kind of credential entirely and never verify here.
 */
export class ReviewTokens {
  constructor(private readonly key: Buffer) {}

  static fromServerKey(serverKey: Buffer): ReviewTokens {
    return new ReviewTokens(createHmac('sha256', serverKey).update('countersign review tokens v1').digest());
  }

  linkToken(approvalId: string, reviewer: string, expiresAt: number): string {
    const payload = Buffer.from(JSON.stringify({ a: approvalId, r: reviewer, e: expiresAt })).toString('base64url');
    return `${payload}.${this.mac(`link\0${payload}`)}`;
  }

  /** The reviewer a link token names, if it is genuine, for this request, and not expired. */
  verifyLink(token: string, approvalId: string, now: number): string | undefined {
    const [payload = '', mac = ''] = token.split('.');
    if (!this.equal(mac, this.mac(`link\0${payload}`))) return undefined;
    try {
      const { a, r, e } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { a?: unknown; r?: unknown; e?: unknown };
      return a === approvalId && typeof r === 'string' && typeof e === 'number' && now < e ? r : undefined;
    } catch {
      return undefined;
    }
  }

  csrfToken(approvalId: string, reviewer: string): string {
    return this.mac(`csrf\0${approvalId}\0${reviewer}`);
  }

  verifyCsrf(token: string, approvalId: string, reviewer: string): boolean {
    return this.equal(token, this.csrfToken(approvalId, reviewer));
  }

  apiToken(reviewer: string): string {
    return `csr_${Buffer.from(reviewer).toString('base64url')}.${this.mac(`api\0${reviewer}`)}`;
  }

  /** The reviewer an API token names, if genuine. */
  verifyApi(token: string): string | undefined {
    const match = /^csr_([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(token);
    if (!match) return undefined;
    const reviewer = Buffer.from(match[1] ?? '', 'base64url').toString('utf8');
    return this.equal(match[2] ?? '', this.mac(`api\0${reviewer}`)) ? reviewer : undefined;
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  private equal(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  }
}
