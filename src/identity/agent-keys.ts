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

/**
 * How long a static key lives unless `--ttl` says otherwise: 90 days, the rotation period AWS
 * Security Hub holds IAM access keys to (control IAM.3). A key that never expires is a standing
 * privilege, so "never" must be asked for by name (`--ttl never`); keys issued before keys had
 * an expiry carry none and keep working until revoked.
 */
export const DEFAULT_KEY_TTL = '90d';

const TTL_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MAX_TTL_MS = 3650 * TTL_UNITS_MS.d;

/** `30d`, `12h`, `15m`, `90s` → milliseconds; `never` → undefined (no expiry). Throws with what is accepted. */
export function parseKeyTtl(text: string): number | undefined {
  if (text === 'never') return undefined;
  const match = /^([1-9]\d{0,6})([smhd])$/.exec(text);
  const ms = match === null ? NaN : Number(match[1]) * TTL_UNITS_MS[match[2] as keyof typeof TTL_UNITS_MS];
  if (!(ms > 0 && ms <= MAX_TTL_MS)) {
    throw new RangeError(`The key lifetime "${text}" is not valid: give a number and a unit (s, m, h or d), at most 3650d, for example 30d; or "never".`);
  }
  return ms;
}

/** Derived secrets by key id, so a key costs one HMAC, not one per request; bounded (cleared past 10,000 keys). */
export class AgentSecretCache {
  private readonly secrets = new Map<string, string>();

  constructor(private readonly serverKey: Buffer) {}

  secretFor(accessKeyId: string): string {
    let secret = this.secrets.get(accessKeyId);
    if (secret === undefined) {
      secret = deriveAgentSecret(this.serverKey, accessKeyId);
      if (this.secrets.size >= 10_000) this.secrets.clear();
      this.secrets.set(accessKeyId, secret);
    }
    return secret;
  }
}
