// The admin API's operator token: what a token file may hold, and the comparison.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acceptedTokenHash, bearerOf, readAcceptedTokenHash, tokenMatches } from '../../src/edge/admin-api-token.js';

const TOKEN = 'a'.repeat(31) + 'b';

describe('admin API token', () => {
  it('accepts the token itself or sha256:HEX of it, and matches only that token', () => {
    const fromToken = acceptedTokenHash(`${TOKEN}\n`, 'file');
    const fromHash = acceptedTokenHash(`sha256:${createHash('sha256').update(TOKEN).digest('hex')}\n`, 'file');
    expect(fromHash.equals(fromToken)).toBe(true);
    expect(tokenMatches(TOKEN, fromHash)).toBe(true);
    for (const wrong of [undefined, '', TOKEN.slice(1), `${TOKEN} `, TOKEN.toUpperCase(), `sha256:${createHash('sha256').update(TOKEN).digest('hex')}`]) expect(tokenMatches(wrong, fromHash), String(wrong)).toBe(false);
  });

  it('refuses a short token, one with spaces, or a malformed hash, without quoting it', () => {
    for (const text of ['', 'short', `${TOKEN.slice(0, 16)} ${TOKEN.slice(16)}`, 'sha256:abc']) {
      expect(() => acceptedTokenHash(text, 'COUNTERSIGN_ADMIN_TOKEN_FILE (x)'), text).toThrow(/^COUNTERSIGN_ADMIN_TOKEN_FILE \(x\) must hold the admin token \(at least 32 characters, no spaces; openssl rand -hex 32 makes one\) or sha256:HEX of it\.$/);
    }
    const dir = mkdtempSync(join(tmpdir(), 'cs-token-'));
    expect(() => readAcceptedTokenHash(join(dir, 'missing'))).toThrow(/cannot be read \(ENOENT\)/);
    writeFileSync(join(dir, 'weak'), 'hunter2\n');
    expect(() => readAcceptedTokenHash(join(dir, 'weak'))).toThrow(/must hold the admin token/);
    expect(() => readAcceptedTokenHash(join(dir, 'weak'))).not.toThrow(/hunter2/);
  });

  it('reads a bearer token from the Authorization header only', () => {
    expect(bearerOf(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerOf(`bearer ${TOKEN}`)).toBe(TOKEN);
    for (const header of [undefined, '', 'Bearer', `Basic ${TOKEN}`, `Bearer ${TOKEN} x`, TOKEN]) expect(bearerOf(header), String(header)).toBeUndefined();
  });
});
