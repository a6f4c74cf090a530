// The credential endpoint against forged, stale and garbled workload tokens, each attack by name:
// a real HTTP endpoint in-process, the test OIDC issuer on loopback (its own keys, discovery,
// JWKS, rotation, outage), and the audit records it writes. Nothing may be issued on a guess.
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.js';
import { createLogger } from '../../src/audit/logger.js';
import { createCredentialEndpoint, CREDENTIALS_PATH } from '../../src/edge/credential-endpoint.js';
import type { IssuerConfig } from '../../src/identity/oidc/issuers.js';
import { WorkloadTokenVerifier } from '../../src/identity/oidc/verify.js';
import { SessionCredentialIssuer, type AgentStanding } from '../../src/identity/session-credentials.js';
import type { WorkloadIdentitySpec } from '../../src/policy/types.js';
import { b64url, hs256Token, startTestIssuer, type TestIssuer } from '../support/oidc-issuer.js';

const SERVER_KEY = Buffer.alloc(32, 7);
const SUB = 'system:serviceaccount:agents:report-bot';

interface Endpoint {
  url: string;
  events: AuditEvent[];
  revoked: Map<string, string>;
  close(): Promise<void>;
}

let issuer: TestIssuer;
const endpoints: Endpoint[] = [];

async function startEndpoint(options: { issuers?: IssuerConfig[]; minRefetchMs?: number; refetchFloorMs?: number; lifetimeMs?: number; now?: () => number } = {}): Promise<Endpoint> {
  const events: AuditEvent[] = [];
  const revoked = new Map<string, string>();
  const standing: AgentStanding = { revokedAt: (agent) => revoked.get(agent) };
  const issuers = options.issuers ?? [{ issuer: issuer.url, audiences: ['countersign'], algorithms: ['RS256', 'ES256'] }];
  const verifier = new WorkloadTokenVerifier(issuers, {
    timings: { refreshMs: 60_000, lifetimeMs: options.lifetimeMs ?? 3_600_000, minRefetchMs: options.minRefetchMs ?? 0, refetchFloorMs: options.refetchFloorMs ?? 0 },
    ...(options.now !== undefined && { now: options.now }),
  });
  const identities: WorkloadIdentitySpec[] = issuers.map((i) => ({ issuer: i.issuer, claims: { sub: SUB }, agent: 'report-bot', source: { file: 'directory.yaml', line: 3, column: 5 } }));
  const server: Server = createCredentialEndpoint({
    verifier,
    sessions: new SessionCredentialIssuer(SERVER_KEY, standing),
    identities: () => identities,
    lifetimeSeconds: 900,
    audit: (event) => events.push(event),
    logger: createLogger('silent'),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint: Endpoint = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${CREDENTIALS_PATH}`,
    events,
    revoked,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await verifier.close();
    },
  };
  endpoints.push(endpoint);
  return endpoint;
}

async function fetchCredentials(endpoint: Endpoint, token: string | undefined) {
  const response = await fetch(endpoint.url, { headers: token === undefined ? {} : { authorization: token } });
  const body = (await response.json()) as Record<string, string>;
  return { status: response.status, body, code: response.headers.get('x-countersign-error') };
}

/** A refusal: the stable code in the header and the body the SDK shows, an audit record, no credentials. */
async function expectRefused(endpoint: Endpoint, token: string | undefined, code: string, status: number) {
  const before = endpoint.events.length;
  const answer = await fetchCredentials(endpoint, token);
  expect(answer.code).toBe(code);
  expect(answer.status).toBe(status);
  expect(answer.body.CountersignCode).toBe(code);
  expect(answer.body.Message).toEqual(expect.any(String));
  expect(answer.body).not.toHaveProperty('AccessKeyId');
  expect(answer.body).not.toHaveProperty('SecretAccessKey');
  const records = endpoint.events.slice(before);
  expect(records).toEqual([expect.objectContaining({ event: 'credentials.refused', errorCode: code })]);
  return answer;
}

beforeAll(async () => {
  issuer = await startTestIssuer();
});
afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((e) => e.close()));
  issuer.setDown(false);
});
afterAll(async () => {
  await issuer.close();
});

describe('credential endpoint: a good token', () => {
  it('issues session credentials for a mapped workload, audited, that countersign accepts and AWS cannot use', async () => {
    const endpoint = await startEndpoint();
    const { status, body } = await fetchCredentials(endpoint, issuer.token());
    expect(status).toBe(200);
    expect(body.AccessKeyId).toMatch(/^CSIA[A-Z2-7]{16}$/);
    expect(body.SecretAccessKey).toHaveLength(40);
    expect(Date.parse(body.Expiration ?? '') - Date.now()).toBeGreaterThan(800_000);
    expect(endpoint.events).toEqual([expect.objectContaining({ event: 'credentials.issued', agent: 'report-bot', accessKeyId: body.AccessKeyId, subject: SUB, identity: 'directory.yaml:3' })]);
    const sessions = new SessionCredentialIssuer(SERVER_KEY);
    expect(sessions.resolve(body.AccessKeyId ?? '', body.Token)).toEqual({ agent: 'report-bot', secret: body.SecretAccessKey });
  });
});

describe('credential endpoint: bad tokens', () => {
  it('refuses a request with no token', async () => {
    await expectRefused(await startEndpoint(), undefined, 'WorkloadTokenMissing', 401);
  });

  it('refuses an expired token', async () => {
    await expectRefused(await startEndpoint(), issuer.token({ exp: Math.floor(Date.now() / 1000) - 120 }), 'WorkloadTokenExpired', 401);
  });

  it('refuses a token from the future (nbf)', async () => {
    await expectRefused(await startEndpoint(), issuer.token({ nbf: Math.floor(Date.now() / 1000) + 600 }), 'WorkloadTokenNotYetValid', 401);
  });

  it('refuses a token with no expiry', async () => {
    await expectRefused(await startEndpoint(), issuer.token({ exp: undefined }), 'WorkloadTokenMalformed', 401);
  });

  it('refuses a token for another audience', async () => {
    await expectRefused(await startEndpoint(), issuer.token({ aud: ['kubernetes', 'vault'] }), 'WorkloadTokenAudience', 403);
  });

  it('refuses a token from an issuer countersign does not trust', async () => {
    await expectRefused(await startEndpoint(), issuer.token({ iss: 'https://token.actions.githubusercontent.com' }), 'WorkloadTokenIssuer', 403);
  });

  it('refuses a token that claims a trusted issuer but is signed by another key', async () => {
    await expectRefused(await startEndpoint(), issuer.tokenWithUnpublishedKey({}, issuer.kid), 'WorkloadTokenSignature', 401);
  });

  it('refuses an unsigned token (alg none)', async () => {
    const endpoint = await startEndpoint();
    const claims = { iss: issuer.url, aud: 'countersign', sub: SUB, exp: Math.floor(Date.now() / 1000) + 600 };
    await expectRefused(endpoint, `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`, 'WorkloadTokenMalformed', 401);
    await expectRefused(endpoint, `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.${b64url('sig')}`, 'WorkloadTokenMalformed', 401);
    await expectRefused(endpoint, `${b64url({ alg: 'NoNe' })}.${b64url(claims)}.x`, 'WorkloadTokenMalformed', 401);
  });

  it('refuses an HS256 token keyed with the issuer\'s public key (algorithm confusion)', async () => {
    const endpoint = await startEndpoint();
    const claims = { iss: issuer.url, aud: 'countersign', sub: SUB, exp: Math.floor(Date.now() / 1000) + 600 };
    const jwk = issuer.publicJwk();
    const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    for (const secret of [pem, JSON.stringify(jwk), String(jwk.n)]) {
      await expectRefused(endpoint, hs256Token(secret, claims, issuer.kid), 'WorkloadTokenMalformed', 401);
    }
  });

  it('refuses an algorithm the issuer is not pinned to', async () => {
    const es = startEndpoint({ issuers: [{ issuer: issuer.url, audiences: ['countersign'], algorithms: ['ES256'] }] });
    await expectRefused(await es, issuer.token(), 'WorkloadTokenMalformed', 401);
  });

  it('refuses an oversized token', async () => {
    await expectRefused(await startEndpoint(), issuer.token({ padding: 'x'.repeat(17 * 1024) }), 'WorkloadTokenMalformed', 401);
  });

  it('refuses garbled tokens', async () => {
    const endpoint = await startEndpoint();
    const good = issuer.token();
    const [h = '', p = '', s = ''] = good.split('.');
    for (const garbled of ['not-a-jwt', `${h}.${p}`, `${h}.${p}.${s}.x.y`, `${h}!.${p}.${s}`, `${b64url('[1]')}.${p}.${s}`, `${h}.${b64url('not json')}.${s}`, `${h}.${p}.`]) {
      await expectRefused(endpoint, garbled, 'WorkloadTokenMalformed', 401);
    }
  });

  it('refuses a token whose claims were changed after signing', async () => {
    const [h = '', p = '', s = ''] = issuer.token().split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${b64url({ ...claims, sub: 'system:serviceaccount:agents:admin-bot' })}.${s}`;
    await expectRefused(await startEndpoint(), forged, 'WorkloadTokenSignature', 401);
  });

  it('refuses a token file caught half-written (rotating mid-flight), then accepts the whole one', async () => {
    const endpoint = await startEndpoint();
    const token = issuer.token();
    await expectRefused(endpoint, token.slice(0, token.indexOf('.') + 10), 'WorkloadTokenMalformed', 401);
    await expectRefused(endpoint, token.slice(0, token.lastIndexOf('.') + 10), 'WorkloadTokenSignature', 401);
    expect((await fetchCredentials(endpoint, token)).status).toBe(200);
  });

  it('refuses a workload no Directory identity maps, even with the same subject from another issuer', async () => {
    const other = await startTestIssuer();
    try {
      const endpoint = await startEndpoint({
        issuers: [
          { issuer: issuer.url, audiences: ['countersign'], algorithms: ['RS256'] },
          { issuer: other.url, audiences: ['countersign'], algorithms: ['RS256'] },
        ],
      });
      await expectRefused(endpoint, issuer.token({ sub: 'system:serviceaccount:agents:unknown' }), 'WorkloadNotMapped', 403);
      // Both issuers map SUB; a token of `other` must not be taken for one of `issuer`, and vice versa.
      expect((await fetchCredentials(endpoint, other.token())).status).toBe(200);
      const mappedTo = endpoint.events.at(-1);
      expect(mappedTo).toMatchObject({ event: 'credentials.issued', issuer: other.url });
    } finally {
      await other.close();
    }
  });

  it('issues nothing to a revoked agent', async () => {
    const endpoint = await startEndpoint();
    endpoint.revoked.set('report-bot', new Date().toISOString());
    await expectRefused(endpoint, issuer.token(), 'AgentRevoked', 403);
  });
});

describe('credential endpoint: issuer keys', () => {
  it('picks up a rotated key by refetching the JWKS for an unknown kid', async () => {
    const endpoint = await startEndpoint();
    expect((await fetchCredentials(endpoint, issuer.token())).status).toBe(200);
    issuer.rotate();
    expect((await fetchCredentials(endpoint, issuer.token())).status).toBe(200);
  });

  it('fails closed on an unknown kid, refetching at most once per interval (a flood of made-up kids)', async () => {
    let now = Date.now();
    const endpoint = await startEndpoint({ minRefetchMs: 30_000, refetchFloorMs: 1_000, now: () => now });
    expect((await fetchCredentials(endpoint, issuer.token())).status).toBe(200);
    const fetches = issuer.jwksFetches;
    for (let i = 0; i < 5; i++) await expectRefused(endpoint, issuer.tokenWithUnpublishedKey(), 'WorkloadTokenSignature', 401);
    expect(issuer.jwksFetches).toBe(fetches); // all within the floor of the first fetch
    now += 2_000;
    const repeated = issuer.tokenWithUnpublishedKey({}, 'made-up');
    await expectRefused(endpoint, repeated, 'WorkloadTokenSignature', 401);
    expect(issuer.jwksFetches).toBe(fetches + 1); // one refetch for a kid not seen before
    now += 2_000;
    await expectRefused(endpoint, repeated, 'WorkloadTokenSignature', 401);
    expect(issuer.jwksFetches).toBe(fetches + 1); // the same kid again: not before minRefetchMs
  });

  it('keeps using cached keys while the JWKS endpoint is down, and fails closed on a kid it never saw', async () => {
    let now = Date.now();
    const endpoint = await startEndpoint({ now: () => now, lifetimeMs: 3_600_000 });
    expect((await fetchCredentials(endpoint, issuer.token())).status).toBe(200);
    issuer.setDown(true);
    now += 30 * 60_000; // past the refresh interval: the refresh fails, the keys are still within their lifetime
    const fresh = issuer.token({ iat: Math.floor(now / 1000), nbf: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 600 });
    expect((await fetchCredentials(endpoint, fresh)).status).toBe(200);
    issuer.rotate();
    await expectRefused(endpoint, issuer.token({ iat: Math.floor(now / 1000), nbf: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 600 }), 'WorkloadTokenSignature', 401);
    now += 2 * 3_600_000; // past the keys' lifetime: nothing is trusted any more
    const late = issuer.token({ iat: Math.floor(now / 1000), nbf: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 600 });
    await expectRefused(endpoint, late, 'WorkloadKeysUnavailable', 503);
  });

  it('refuses with WorkloadKeysUnavailable when the issuer is down and no key was ever fetched', async () => {
    const endpoint = await startEndpoint();
    issuer.setDown(true);
    await expectRefused(endpoint, issuer.token(), 'WorkloadKeysUnavailable', 503);
  });

  it('verifies against a static JWKS file (air-gapped), re-read when replaced', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cs-jwks-'));
    try {
      const file = path.join(dir, 'jwks.json');
      writeFileSync(file, JSON.stringify(issuer.jwks()));
      const endpoint = await startEndpoint({ issuers: [{ issuer: issuer.url, audiences: ['countersign'], algorithms: ['RS256'], jwksFile: file }] });
      issuer.setDown(true); // never fetched
      expect((await fetchCredentials(endpoint, issuer.token())).status).toBe(200);
      issuer.rotate({ retire: true });
      await expectRefused(endpoint, issuer.token(), 'WorkloadTokenSignature', 401);
      writeFileSync(file, JSON.stringify(issuer.jwks()));
      expect((await fetchCredentials(endpoint, issuer.token())).status).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('session credentials', () => {
  const standing = new Map<string, string>();
  const sessions = new SessionCredentialIssuer(SERVER_KEY, { revokedAt: (agent) => standing.get(agent) });

  it('refuses expired session credentials', () => {
    let now = Date.now();
    const clocked = new SessionCredentialIssuer(SERVER_KEY, undefined, () => now);
    const issued = clocked.issue('report-bot', 60);
    expect(clocked.resolve(issued.accessKeyId, issued.sessionToken).agent).toBe('report-bot');
    now += 61_000;
    expect(() => clocked.resolve(issued.accessKeyId, issued.sessionToken)).toThrow(expect.objectContaining({ code: 'SessionCredentialsExpired' }));
  });

  it('refuses a session token with a forged agent or expiry', () => {
    const issued = sessions.issue('report-bot', 900);
    const [prefix = '', payload = '', mac = ''] = issued.sessionToken.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    for (const change of [{ a: 'admin-bot' }, { e: (claims.e as number) + 86_400 }]) {
      const forged = `${prefix}.${b64url({ ...claims, ...change })}.${mac}`;
      expect(() => sessions.resolve(issued.accessKeyId, forged)).toThrow(expect.objectContaining({ code: 'SessionCredentialsInvalid' }));
    }
  });

  it('refuses a session token minted with another server key, or used with another access key id', () => {
    const foreign = new SessionCredentialIssuer(Buffer.alloc(32, 8)).issue('report-bot', 900);
    expect(() => sessions.resolve(foreign.accessKeyId, foreign.sessionToken)).toThrow(expect.objectContaining({ code: 'SessionCredentialsInvalid' }));
    const a = sessions.issue('report-bot', 900);
    const b = sessions.issue('report-bot', 900);
    expect(() => sessions.resolve(a.accessKeyId, b.sessionToken)).toThrow(expect.objectContaining({ code: 'SessionCredentialsInvalid' }));
    expect(() => sessions.resolve(a.accessKeyId, undefined)).toThrow(expect.objectContaining({ code: 'SessionCredentialsInvalid' }));
  });

  it('refuses credentials handed out before the agent was revoked', () => {
    const issued = sessions.issue('report-bot', 900);
    standing.set('report-bot', new Date(Date.now() + 1000).toISOString());
    try {
      expect(() => sessions.resolve(issued.accessKeyId, issued.sessionToken)).toThrow(expect.objectContaining({ code: 'AgentRevoked' }));
      expect(() => sessions.issue('report-bot', 900)).toThrow(expect.objectContaining({ code: 'AgentRevoked' }));
    } finally {
      standing.delete('report-bot');
    }
  });
});
