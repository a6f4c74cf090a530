import { createHmac, randomBytes } from 'node:crypto';

/**
 * Agent keys look like AWS keys so every SDK accepts them, but they are worthless against AWS:
 * the secret is HMAC(server key, access key id), known only to countersign. Nothing secret is
 * stored per agent, so the registry file holds no secrets and a leaked registry grants nothing.
 */

const KEY_ID_PREFIX = 'CSAK';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A fresh access key id: `CSAK` + 16 base32 characters (20 in all, like AWS key ids). */
export function newAccessKeyId(): string {
  const bytes = randomBytes(16);
  let id = KEY_ID_PREFIX;
  for (const byte of bytes) id += BASE32[byte % 32];
  return id;
}

export function looksLikeAgentKeyId(accessKeyId: string): boolean {
  return /^CSAK[A-Z2-7]{16}$/.test(accessKeyId);
}

/** The agent's secret access key, derived from the server key (40 characters, like AWS). */
export function deriveAgentSecret(serverKey: Buffer, accessKeyId: string): string {
  return createHmac('sha256', serverKey)
    .update(`countersign agent secret v1\0${accessKeyId}`)
    .digest('base64')
    .slice(0, 40);
}

/** Agent names appear in STS session names and audit records: keep them plain. */
export const AGENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$/;
