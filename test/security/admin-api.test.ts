// The admin API (issue, list, revoke agent keys on a running countersign) against the ways an
// agent or a stranger could reach or abuse it, each attack by name, on the built countersign as
// a user runs it. Whatever is refused must also have issued nothing: the registry is checked.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCountersign, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { rawConnect, send } from '../support/raw-requests.js';

const POLICIES = {
  'directory.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  report-bot: { owners: [dana] }
reviewers:
  dana: { name: Dana }
`,
};

let cs: CountersignProcess;
let off: CountersignProcess;
let token: string;

function tokenFile(content: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'cs-admin-token-')), 'token');
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

beforeAll(async () => {
  token = randomBytes(32).toString('hex');
  registerSecret(token);
  // The server holds only the token's hash.
  const hashed = tokenFile(`sha256:${createHash('sha256').update(token).digest('hex')}\n`);
  [cs, off] = await Promise.all([
    startCountersign({ policies: POLICIES, env: { COUNTERSIGN_ADMIN_TOKEN_FILE: hashed, COUNTERSIGN_UPSTREAM_OVERRIDES: '*=http://127.0.0.1:9' } }),
    startCountersign({ policies: POLICIES }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([cs?.stop(), off?.stop()]);
});

interface Answer {
  status: number;
  code: string | null;
  headers: Headers;
  json: Record<string, unknown>;
}

async function call(target: CountersignProcess, method: string, route: string, options: { authorization?: string; body?: string; contentType?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(`${target.adminUrl}${route}`, { method, headers, ...(options.body !== undefined && { body: options.body }) });
  const text = await response.text();
  return { status: response.status, code: response.headers.get('x-countersign-error'), headers: response.headers, json: JSON.parse(text) as Record<string, unknown> };
}

const bearer = () => `Bearer ${token}`;

async function keyCount(): Promise<number> {
  const { json } = await call(cs, 'GET', '/v1/agents', { authorization: bearer() });
  return (json.agents as Array<{ keys: unknown[] }>).reduce((n, a) => n + a.keys.length, 0);
}

describe('the admin API', { timeout: 60_000 }, () => {
  it('the admin API is not reachable through the proxy port (endpoint mode, absolute URI, CONNECT), token or not', async () => {
    const before = await keyCount();
    const adminAuthority = new URL(cs.adminUrl).host;
    const headers = { host: `127.0.0.1:${cs.port}`, authorization: bearer(), 'content-type': 'application/json' };
    const answers = [
      await send(cs.port, 'GET', '/v1/agents', headers),
      await send(cs.port, 'POST', '/v1/agents/report-bot/keys', headers, '{"force":true}'),
      await send(cs.port, 'GET', `${cs.adminUrl}/v1/agents`, { ...headers, host: adminAuthority }),
      await send(cs.port, 'POST', `${cs.adminUrl}/v1/agents/report-bot/keys`, { ...headers, host: adminAuthority }, '{}'),
    ];
    for (const answer of answers) {
      expect(answer.status, answer.body).toBeGreaterThanOrEqual(400);
      expect(answer.headers['x-countersign-error']).not.toMatch(/^Admin/);
      expect(answer.body).not.toContain('secretAccessKey');
      expect(answer.body).not.toContain('"agents"');
    }
    const tunnel = await rawConnect(cs.port, adminAuthority);
    expect(tunnel.statusLine).not.toMatch(/^HTTP\/1\.1 200/);
    expect(await keyCount()).toBe(before);
  });

  it('the admin API refuses a missing, wrong or malformed operator token, and issues nothing', async () => {
    const before = await keyCount();
    const hash = createHash('sha256').update(token).digest('hex');
    const wrong = [undefined, '', 'Bearer', 'Bearer ', `Bearer ${token.slice(0, -1)}`, `Bearer ${token}x`, `Bearer sha256:${hash}`, `Bearer ${hash}`, `Basic ${Buffer.from(`admin:${token}`).toString('base64')}`, token, `Bearer ${token} ${token}`];
    for (const authorization of wrong) {
      for (const [method, route, body] of [['GET', '/v1/agents', undefined], ['POST', '/v1/agents/report-bot/keys', '{}'], ['POST', '/v1/agents/report-bot/revoke', undefined]] as const) {
        const answer = await call(cs, method, route, { ...(authorization !== undefined && { authorization }), ...(body !== undefined && { body }) });
        expect(answer.status, `${String(authorization)} ${route}`).toBe(401);
        expect(answer.code).toBe('AdminUnauthorized');
        expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer /);
        expect(answer.json).toEqual({ error: { code: 'AdminUnauthorized', message: expect.any(String) as unknown, hint: expect.stringContaining('Bearer') as unknown } });
      }
    }
    // A wrong token is told nothing about what exists: an unknown path answers the same.
    expect((await call(cs, 'GET', '/v1/nothing-here', { authorization: 'Bearer nope' })).code).toBe('AdminUnauthorized');
    expect(await keyCount()).toBe(before);
    expect((await call(cs, 'GET', '/v1/agents', { authorization: `bearer ${token}` })).status).toBe(200); // RFC 6750: the scheme is case-insensitive
    // Each refusal is audited, with what was tried and from where, never the token presented.
    const refused = () => cs.stdout().split('\n').filter((l) => l.includes('"admin.refused"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const deadline = Date.now() + 5_000;
    while (refused().length < wrong.length * 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(refused().length).toBeGreaterThanOrEqual(wrong.length * 3);
    expect(refused()[0]).toMatchObject({ errorCode: 'AdminUnauthorized', method: 'GET', path: '/v1/agents', remoteAddress: '127.0.0.1' });
  });

  it('with no operator token configured the admin API is off and says so, whatever is presented', async () => {
    for (const [method, route] of [['GET', '/v1/agents'], ['POST', '/v1/agents/report-bot/keys']] as const) {
      const answer = await call(off, method, route, { authorization: bearer(), ...(method === 'POST' && { body: '{}' }) });
      expect(answer.status).toBe(404);
      expect(answer.code).toBe('AdminApiDisabled');
      expect((answer.json.error as { hint: string }).hint).toContain('COUNTERSIGN_ADMIN_TOKEN_FILE');
    }
    expect(off.cli(['agents', 'list', '--json']).trim()).toBe('[]');
    // The rest of the admin listener is unaffected.
    expect((await fetch(`${off.adminUrl}/healthz`)).status).toBe(200);
  });

  it('an oversized, malformed or mis-addressed admin request is refused with a stable code before anything is issued', async () => {
    const before = await keyCount();
    const auth = { authorization: bearer() };
    const cases: Array<[string, string, Parameters<typeof call>[3], number, string]> = [
      ['POST', '/v1/agents/report-bot/keys', { ...auth, body: JSON.stringify({ ttl: '1d', pad: 'x'.repeat(20_000) }) }, 413, 'RequestTooLarge'],
      ['POST', '/v1/agents/report-bot/keys', { ...auth, body: '{"ttl": "1d"' }, 400, 'AdminBadRequest'],
      ['POST', '/v1/agents/report-bot/keys', { ...auth, body: '["1d"]' }, 400, 'AdminBadRequest'],
      ['POST', '/v1/agents/report-bot/keys', { ...auth, body: '{"ttl": "1d", "agent": "other"}' }, 400, 'AdminBadRequest'],
      ['POST', '/v1/agents/report-bot/keys', { ...auth, body: '{"ttl": 30}' }, 400, 'AdminBadRequest'],
      ['POST', '/v1/agents/report-bot/keys', { ...auth, body: '{"ttl": "30 days"}' }, 400, 'AdminBadRequest'],
      ['POST', '/v1/agents/report-bot/keys', { ...auth, body: 'ttl=1d', contentType: 'application/x-www-form-urlencoded' }, 400, 'AdminBadRequest'],
      ['POST', '/v1/agents/..%2Fx/keys', { ...auth, body: '{}' }, 400, 'AdminBadRequest'],
      ['POST', '/v1/agents/stranger-bot/keys', { ...auth, body: '{}' }, 409, 'UndeclaredAgent'],
      ['GET', '/v1/agents/report-bot/keys', auth, 405, 'AdminMethodNotAllowed'],
      ['DELETE', '/v1/agents', auth, 405, 'AdminMethodNotAllowed'],
      ['POST', '/v1/keys/CSAKAAAAAAAAAAAAAAAA/revoke', auth, 404, 'AdminNotFound'],
      ['GET', '/v1/secrets', auth, 404, 'AdminNotFound'],
    ];
    for (const [method, route, options, status, code] of cases) {
      const answer = await call(cs, method, route, options);
      expect([answer.status, answer.code], `${method} ${route}`).toEqual([status, code]);
      expect(answer.json).toMatchObject({ error: { code } });
    }
    expect((await call(cs, 'GET', '/v1/agents/report-bot/keys', auth)).headers.get('allow')).toBe('POST');
    expect(await keyCount()).toBe(before);
  });

  it("the issued secret is in the issue response only: not in listings, logs or the audit trail", async () => {
    const issued = await call(cs, 'POST', '/v1/agents/report-bot/keys', { authorization: bearer(), body: '{"ttl":"30d"}' });
    expect(issued.status).toBe(201);
    const secret = issued.json.secretAccessKey as string;
    registerSecret(secret);
    expect(issued.json).toMatchObject({ agent: 'report-bot', accessKeyId: expect.stringMatching(/^CSAK/) as unknown, expiresAt: expect.any(String) as unknown });
    expect(issued.headers.get('cache-control')).toBe('no-store');
    const listing = await call(cs, 'GET', '/v1/agents', { authorization: bearer() });
    expect(JSON.stringify(listing.json)).toContain(issued.json.accessKeyId as string);
    expect(JSON.stringify(listing.json)).not.toContain(secret);
    // The audit record of the issue is written; the secret and the token are in no line of output.
    const deadline = Date.now() + 5_000;
    while (!cs.stdout().includes('"agent.key_issued"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(cs.stdout()).toContain('"agent.key_issued"');
    expect(cs.stdout() + cs.stderr()).not.toContain(secret);
    expect(cs.stdout() + cs.stderr()).not.toContain(token);
  });
});
