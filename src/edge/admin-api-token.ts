import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The operator token of the admin API. The server keeps only its SHA-256: the token file may
 * hold the token itself or `sha256:HEX` of it (so a cluster's Secret need not hold the token at
 * all), and a presented token is hashed and compared in constant time. A token is long and
 * random (`openssl rand -hex 32`), so one unsalted hash is enough: there is nothing to guess.
 */

const MIN_TOKEN_LENGTH = 32;
const HASHED = /^sha256:([0-9a-f]{64})$/;

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The hash to accept, from the token file's text; throws with what is wrong (never quoting it). */
export function acceptedTokenHash(text: string, source: string): Buffer {
  const value = text.trim();
  const hashed = HASHED.exec(value);
  if (hashed?.[1] !== undefined) return Buffer.from(hashed[1], 'hex');
  if (value.length < MIN_TOKEN_LENGTH || /\s/.test(value)) {
    throw new Error(`${source} must hold the admin token (at least ${MIN_TOKEN_LENGTH} characters, no spaces; openssl rand -hex 32 makes one) or sha256:HEX of it.`);
  }
  return hashToken(value);
}

export function readAcceptedTokenHash(path: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`COUNTERSIGN_ADMIN_TOKEN_FILE=${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`, { cause: error });
  }
  return acceptedTokenHash(text, `COUNTERSIGN_ADMIN_TOKEN_FILE (${path})`);
}

/** Whether a presented token (the Authorization header's bearer) is the operator's. */
export function tokenMatches(presented: string | undefined, accepted: Buffer): boolean {
  if (presented === undefined || presented === '') return false;
  return timingSafeEqual(hashToken(presented), accepted);
}

/** `Authorization: Bearer TOKEN` → TOKEN (scheme case-insensitive, RFC 6750 section 2.1). */
export function bearerOf(header: string | undefined): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match?.[1];
}
