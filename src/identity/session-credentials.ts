import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CountersignError } from '../errors.js';

/**
 * Short-lived agent credentials for workloads that proved who they are with a token
 * (credential-endpoint.ts). Stateless, like static agent keys: nothing is stored per issue, so
 * every replica sharing the server key accepts them at once.
 *
 *   AccessKeyId      CSIA + 16 random base32 characters (20, like AWS's ASIA… temporary keys)
 *   Token            cs1.<payload>.<mac>: payload = base64url JSON {k: key id, a: agent, i: issued, e: expires}
 *                    (seconds), mac = HMAC-SHA256(server key, payload), base64url
 *   SecretAccessKey  HMAC-SHA256(server key, "session secret" ‖ payload), 40 characters
 *
 * The SDK sends the token as X-Amz-Security-Token with every request; countersign checks the
 * MAC, that it names the signing key id, that it has not expired, and that the agent is not
 * revoked, then verifies the SigV4 signature with the secret it derives. Worthless against AWS.
 */

/** What a registry must answer so revocation reaches credentials already handed out (the agent registry implements it). */
export interface AgentStanding {
  /** When the agent was revoked, if it is: credentials issued at or before then are refused, and none are issued while it is set. */
  revokedAt(agent: string): string | undefined;
}

/** No revocation source: every agent in good standing. */
export const NO_REVOCATIONS: AgentStanding = { revokedAt: () => undefined };

export interface SessionCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly agent: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

interface SessionPayload {
  readonly k: string;
  readonly a: string;
  readonly i: number;
  readonly e: number;
}

const TOKEN_PREFIX = 'cs1.';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Agent names are at most 48 characters; a token is well under this. */
const MAX_SESSION_TOKEN_LENGTH = 512;

export function looksLikeSessionKeyId(accessKeyId: string): boolean {
  return /^CSIA[A-Z2-7]{16}$/.test(accessKeyId);
}

export class SessionCredentialIssuer {
  constructor(
    private readonly serverKey: Buffer,
    private readonly standing: AgentStanding = NO_REVOCATIONS,
    private readonly now: () => number = Date.now,
  ) {}

  /** New credentials for `agent`, valid for `lifetimeSeconds` (never past `notAfter`, e.g. the workload token's exp). */
  issue(agent: string, lifetimeSeconds: number, notAfterSeconds?: number): SessionCredentials {
    const revokedAt = this.standing.revokedAt(agent);
    if (revokedAt !== undefined) throw new CountersignError('AgentRevoked', `The agent "${agent}" was revoked at ${revokedAt}; countersign issues it no credentials.`);
    const issued = Math.floor(this.now() / 1000);
    const expires = Math.min(issued + lifetimeSeconds, notAfterSeconds ?? Number.POSITIVE_INFINITY);
    let accessKeyId = 'CSIA';
    for (const byte of randomBytes(16)) accessKeyId += BASE32[byte % 32];
    const payload = Buffer.from(JSON.stringify({ k: accessKeyId, a: agent, i: issued, e: expires } satisfies SessionPayload)).toString('base64url');
    return {
      accessKeyId,
      secretAccessKey: this.secretOf(payload),
      sessionToken: `${TOKEN_PREFIX}${payload}.${this.macOf(payload)}`,
      agent,
      issuedAt: new Date(issued * 1000),
      expiresAt: new Date(expires * 1000),
    };
  }

  /** The agent and secret a request signed with session credentials proves, or a refusal. */
  resolve(accessKeyId: string, sessionToken: string | undefined): { agent: string; secret: string } {
    if (sessionToken === undefined || sessionToken === '') {
      throw new CountersignError('SessionCredentialsInvalid', `The access key ${accessKeyId} is a countersign session key; send its session token (X-Amz-Security-Token) too.`);
    }
    const payload = this.payloadOf(sessionToken);
    if (payload.k !== accessKeyId) throw new CountersignError('SessionCredentialsInvalid', 'The session token was issued with another access key id.');
    const now = this.now();
    if (now >= payload.e * 1000) {
      throw new CountersignError('SessionCredentialsExpired', `The session credentials of agent "${payload.a}" expired at ${new Date(payload.e * 1000).toISOString()} (countersign's clock: ${new Date(now).toISOString()}).`);
    }
    const revokedAt = this.standing.revokedAt(payload.a);
    if (revokedAt !== undefined && payload.i * 1000 <= Date.parse(revokedAt)) {
      throw new CountersignError('AgentRevoked', `The agent "${payload.a}" was revoked at ${revokedAt}; its credentials issued before then are void.`);
    }
    const encoded = sessionToken.slice(TOKEN_PREFIX.length, sessionToken.lastIndexOf('.'));
    return { agent: payload.a, secret: this.secretOf(encoded) };
  }

  private payloadOf(sessionToken: string): SessionPayload {
    const invalid = () => new CountersignError('SessionCredentialsInvalid', 'The session token (X-Amz-Security-Token) is not one this countersign issued.');
    if (sessionToken.length > MAX_SESSION_TOKEN_LENGTH || !sessionToken.startsWith(TOKEN_PREFIX)) throw invalid();
    const [encoded = '', mac = '', ...rest] = sessionToken.slice(TOKEN_PREFIX.length).split('.');
    if (rest.length > 0 || encoded === '') throw invalid();
    const expected = Buffer.from(this.macOf(encoded));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    const payload = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as SessionPayload;
    if (typeof payload.k !== 'string' || typeof payload.a !== 'string' || typeof payload.i !== 'number' || typeof payload.e !== 'number') throw invalid();
    return payload;
  }

  private macOf(payload: string): string {
    return createHmac('sha256', this.serverKey).update(`countersign session token v1\0${payload}`).digest('base64url');
  }

  private secretOf(payload: string): string {
    return createHmac('sha256', this.serverKey).update(`countersign session secret v1\0${payload}`).digest('base64').slice(0, 40);
  }
}
