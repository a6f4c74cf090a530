// Revocation and expiry across replicas, each attack by name: two countersign processes sharing
// one real redis-server, each with a data directory of its own holding the same CA and server
// key (as pods do: nothing but Redis carries the registry between them), the test OIDC
// issuer on loopback for session credentials, and requests signed as an SDK signs them. A change
// made through one replica's admin API must stop the agent on the other within seconds; waits
// are bounded polls on the answer, never sleeps as the assertion.
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.js';
import { send, signedRequest } from '../support/raw-requests.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const SUB = 'system:serviceaccount:agents:report-bot';

function policies(issuer: string): Record<string, string> {
  return {
    'directory.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  report-bot: { owners: [dana] }
  support-bot: { owners: [dana] }
reviewers:
  dana: { name: Dana }
identities:
  - issuer: ${issuer}
    claims: { sub: "${SUB}" }
    agent: report-bot
`,
    // No rule allows anything: an identified request is refused AccessDenied, an unidentified one earlier.
    'rules.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: no-deletes
    effect: deny
    agents: ["*"]
    actions: ["s3:DeleteBucket"]
    resources: ["*"]
`,
  };
}

let redis: RedisServer;
let issuer: TestIssuer;
let a: CountersignProcess;
let b: CountersignProcess;
let token: string;

beforeAll(async () => {
  [redis, issuer] = await Promise.all([startRedis(), startTestIssuer()]);
  token = randomBytes(32).toString('hex');
  registerSecret(token);
  const tokenFile = path.join(mkdtempSync(path.join(tmpdir(), 'cs-admin-token-')), 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const env = {
    COUNTERSIGN_REDIS_URL: redis.url,
    COUNTERSIGN_REDIS_PREFIX: `test:${randomUUID()}:`,
    COUNTERSIGN_ADMIN_TOKEN_FILE: tokenFile,
    COUNTERSIGN_OIDC_ISSUER: issuer.url,
    COUNTERSIGN_OIDC_AUDIENCES: 'countersign',
    COUNTERSIGN_CREDENTIALS_LISTEN: '127.0.0.1:0',
    // Nothing may leave: an upstream that is not there.
    COUNTERSIGN_UPSTREAM_OVERRIDES: '*=http://127.0.0.1:9',
  };
  a = await startCountersign({ policies: policies(issuer.url), env });
  b = await startCountersign({ policies: policies(issuer.url), env, dataDir: sameKeys(a.dataDir) });
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([redis?.stop(), issuer?.close()]);
});

/** A fresh data directory with another's CA and server key, as each pod gets them from the chart's Secret. */
function sameKeys(dataDir: string): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'cs-replica-')), 'data');
  mkdirSync(dir, { mode: 0o700 });
  for (const file of ['ca.crt', 'ca.key', 'server.key']) copyFileSync(path.join(dataDir, file), path.join(dir, file));
  return dir;
}

async function admin(cs: CountersignProcess, method: string, route: string, body?: object): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${cs.adminUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function issue(cs: CountersignProcess, agent: string, ttl = '1d'): Promise<AgentKey & { expiresAt: string }> {
  const { status, json } = await admin(cs, 'POST', `/v1/agents/${agent}/keys`, { ttl });
  expect(status).toBe(201);
  const key = json as unknown as AgentKey & { expiresAt: string };
  registerSecret(key.secretAccessKey);
  return key;
}

/** An S3 call in endpoint mode, signed as an SDK signs it; the answer's countersign code (AccessDenied: identified, then refused by policy). */
async function codeOf(cs: CountersignProcess, key: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): Promise<string | undefined> {
  const host = `127.0.0.1:${cs.port}`;
  const pathname = '/reports/a.txt';
  const { headers } = await signedRequest({
    accessKeyId: key.accessKeyId,
    secretAccessKey: key.secretAccessKey,
    service: 's3',
    host,
    path: pathname,
    ...(key.sessionToken !== undefined && { headers: { 'x-amz-security-token': key.sessionToken } }),
  });
  const response = await send(cs.port, 'GET', pathname, headers);
  return response.headers['x-countersign-error'] as string | undefined;
}

/** Polls until the answer's code is `want` (the other replica hears of a change within about a second); returns the last code. */
async function eventuallyCode(read: () => Promise<string | undefined>, want: string, within = 5_000): Promise<string | undefined> {
  const deadline = Date.now() + within;
  for (;;) {
    const code = await read();
    if (code === want || Date.now() > deadline) return code;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function credentialUrl(cs: CountersignProcess): string {
  const line = cs.stdout().split('\n').find((l) => l.includes('"credentials.listening"'));
  return (JSON.parse(line ?? '{}') as { url?: string }).url ?? '';
}

describe('agent revocation and expiry on every replica', { timeout: 60_000 }, () => {
  it("a revoked agent's already-issued credentials stop working on every replica (static keys and session credentials)", async () => {
    const key = await issue(a, 'report-bot');
    // The session credentials are handed out by replica a, before the revocation.
    const fetched = await fetch(credentialUrl(a), { headers: { authorization: issuer.token({ sub: SUB }) } });
    expect(fetched.status).toBe(200);
    const session = (await fetched.json()) as { AccessKeyId: string; SecretAccessKey: string; Token: string };
    registerSecret(session.SecretAccessKey, session.Token);
    const sessionKey = { accessKeyId: session.AccessKeyId, secretAccessKey: session.SecretAccessKey, sessionToken: session.Token };
    expect(await eventuallyCode(() => codeOf(b, key), 'AccessDenied')).toBe('AccessDenied');
    expect(await codeOf(b, sessionKey)).toBe('AccessDenied');

    const revoked = await admin(a, 'POST', '/v1/agents/report-bot/revoke');
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({ agent: 'report-bot', revokedKeys: [key.accessKeyId], revokedAt: expect.stringMatching(/^\d{4}-/) as unknown });
    expect(await eventuallyCode(() => codeOf(b, key), 'RevokedAgentKey')).toBe('RevokedAgentKey');
    expect(await eventuallyCode(() => codeOf(b, sessionKey), 'AgentRevoked')).toBe('AgentRevoked');
    expect(await codeOf(a, key)).toBe('RevokedAgentKey');
    expect(await codeOf(a, sessionKey)).toBe('AgentRevoked');
    // And no replica hands the agent new session credentials.
    const again = await fetch(credentialUrl(b), { headers: { authorization: issuer.token({ sub: SUB }) } });
    expect(again.headers.get('x-countersign-error')).toBe('AgentRevoked');
  });

  it('a key revoked on one replica is refused on the other, and only that key', async () => {
    const doomed = await issue(b, 'support-bot');
    const kept = await issue(b, 'support-bot');
    expect(await eventuallyCode(() => codeOf(a, doomed), 'AccessDenied')).toBe('AccessDenied');
    expect((await admin(b, 'POST', `/v1/keys/${doomed.accessKeyId}/revoke`)).json).toMatchObject({ agent: 'support-bot', revokedKeys: [doomed.accessKeyId] });
    expect(await eventuallyCode(() => codeOf(a, doomed), 'RevokedAgentKey')).toBe('RevokedAgentKey');
    expect(await codeOf(a, kept)).toBe('AccessDenied');
  });

  it('an expired static key is refused, on every replica', async () => {
    const shortLived = await issue(a, 'support-bot', '2s');
    expect(await eventuallyCode(() => codeOf(b, shortLived), 'AccessDenied')).toBe('AccessDenied');
    const wait = Date.parse(shortLived.expiresAt) - Date.now();
    await new Promise((r) => setTimeout(r, Math.max(0, wait) + 10));
    expect(await codeOf(b, shortLived)).toBe('ExpiredAgentKey');
    expect(await codeOf(a, shortLived)).toBe('ExpiredAgentKey');
  });
});
