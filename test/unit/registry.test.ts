import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { signRequest, parseAuthorization } from '../../src/aws/sigv4.js';
import { AGENT_NAME_PATTERN, DEFAULT_KEY_TTL, deriveAgentSecret, looksLikeAgentKeyId, newAccessKeyId, parseKeyTtl } from '../../src/identity/agent-keys.js';
import { MAX_CLOCK_SKEW_MS, resolveAgentKey, verifyAgent } from '../../src/identity/identify.js';
import { AgentRegistry, ensureDataDir, loadOrCreateServerKey } from '../../src/identity/registry.js';
import { refusalAsync } from '../support/refusal.js';

const dirs: string[] = [];
function dataDir(): string {
  const parent = mkdtempSync(join(tmpdir(), 'countersign-registry-'));
  dirs.push(parent);
  return join(parent, 'data');
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('agent keys', () => {
  it('makes AWS-shaped access key ids with the CSAK prefix', () => {
    const ids = new Set(Array.from({ length: 50 }, () => newAccessKeyId()));
    expect(ids.size).toBe(50);
    for (const id of ids) {
      expect(id).toMatch(/^CSAK[A-Z2-7]{16}$/);
      expect(looksLikeAgentKeyId(id)).toBe(true);
    }
    expect(looksLikeAgentKeyId('AKIAIOSFODNN7EXAMPLE')).toBe(false);
    expect(looksLikeAgentKeyId('CSAKABCDEFGHIJKLMNO1')).toBe(false);
  });

  it('derives a stable 40-character secret that depends on the server key and the key id', () => {
    const keyA = Buffer.alloc(32, 1);
    const keyB = Buffer.alloc(32, 2);
    const id = 'CSAKABCDEFGHIJKLMNOP';
    const secret = deriveAgentSecret(keyA, id);
    expect(secret).toHaveLength(40);
    expect(deriveAgentSecret(Buffer.alloc(32, 1), id)).toBe(secret);
    expect(deriveAgentSecret(keyB, id)).not.toBe(secret);
    expect(deriveAgentSecret(keyA, 'CSAKABCDEFGHIJKLMNOQ')).not.toBe(secret);
  });

  it('reads key lifetimes in s, m, h and d, "never" as no expiry, and refuses anything else', () => {
    expect(parseKeyTtl('30d')).toBe(30 * 86_400_000);
    expect(parseKeyTtl('12h')).toBe(12 * 3_600_000);
    expect(parseKeyTtl('15m')).toBe(15 * 60_000);
    expect(parseKeyTtl('90s')).toBe(90_000);
    expect(parseKeyTtl('3650d')).toBe(3650 * 86_400_000);
    expect(parseKeyTtl('never')).toBeUndefined();
    expect(parseKeyTtl(DEFAULT_KEY_TTL)).toBe(90 * 86_400_000);
    for (const bad of ['', '0d', '30', 'd', '1w', '-1d', '1.5d', '3651d', ' 30d', 'Never', '30D']) expect(() => parseKeyTtl(bad), bad).toThrow(/is not valid: give a number and a unit/);
  });

  it('accepts plain agent names only', () => {
    for (const name of ['report-1', 'a', 'A.b_c-d', 'x'.repeat(48)]) expect(AGENT_NAME_PATTERN.test(name), name).toBe(true);
    for (const name of ['', '-a', '.a', 'a b', 'a/b', 'x'.repeat(49), 'é']) expect(AGENT_NAME_PATTERN.test(name), name).toBe(false);
  });
});

describe('server key', () => {
  it('creates the data directory and a 0600 server key once', () => {
    const dir = dataDir();
    const key = loadOrCreateServerKey(dir);
    expect(key).toHaveLength(32);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const path = join(dir, 'server.key');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe(key.toString('hex') + '\n');
    expect(loadOrCreateServerKey(dir).equals(key)).toBe(true);
  });

  it('refuses a server key file that does not hold 64 hex digits', () => {
    const dir = dataDir();
    ensureDataDir(dir);
    writeFileSync(join(dir, 'server.key'), 'abcd\n');
    expect(() => loadOrCreateServerKey(dir)).toThrow(/server\.key must hold 64 hex digits/);
  });
});

describe('AgentRegistry', () => {
  it('issues keys whose secret is derived from the server key', () => {
    const dir = dataDir();
    const serverKey = loadOrCreateServerKey(dir);
    const registry = new AgentRegistry(dir, serverKey);
    const issued = registry.issue('report-1');
    expect(issued.agent).toBe('report-1');
    expect(looksLikeAgentKeyId(issued.accessKeyId)).toBe(true);
    expect(issued.secretAccessKey).toBe(deriveAgentSecret(serverKey, issued.accessKeyId));
    expect(registry.secretFor(issued.accessKeyId)).toBe(issued.secretAccessKey);
    expect(new AgentRegistry(dir, loadOrCreateServerKey(dir)).secretFor(issued.accessKeyId)).toBe(issued.secretAccessKey);
    expect(new AgentRegistry(dir, Buffer.alloc(32, 9)).secretFor(issued.accessKeyId)).not.toBe(issued.secretAccessKey);
    const found = registry.lookup(issued.accessKeyId);
    expect(found?.agent).toBe('report-1');
    expect(found?.key.accessKeyId).toBe(issued.accessKeyId);
    expect(found?.key.revokedAt).toBeUndefined();
    expect(Number.isNaN(Date.parse(found?.key.createdAt ?? ''))).toBe(false);
    expect(registry.lookup('CSAKAAAAAAAAAAAAAAAA')).toBeUndefined();
  });

  it('stores no secret in agents.json, with owner-only access', () => {
    const dir = dataDir();
    const registry = new AgentRegistry(dir, loadOrCreateServerKey(dir));
    const first = registry.issue('report-1');
    const second = registry.issue('report-1');
    const text = readFileSync(join(dir, 'agents.json'), 'utf8');
    expect(text).not.toContain(first.secretAccessKey);
    expect(text).not.toContain(second.secretAccessKey);
    expect(text).not.toContain(readFileSync(join(dir, 'server.key'), 'utf8').trim());
    expect(statSync(join(dir, 'agents.json')).mode & 0o777).toBe(0o600);
    const parsed = JSON.parse(text) as { version: number; agents: Record<string, { keys: Array<Record<string, string>> }> };
    expect(parsed.version).toBe(1);
    expect(Object.keys(parsed.agents)).toEqual(['report-1']);
    expect(parsed.agents['report-1']?.keys.map((k) => Object.keys(k).sort())).toEqual([
      ['accessKeyId', 'createdAt'],
      ['accessKeyId', 'createdAt'],
    ]);
    expect(parsed.agents['report-1']?.keys.map((k) => k.accessKeyId)).toEqual([first.accessKeyId, second.accessKeyId]);
  });

  it('lists agents and their keys', () => {
    const dir = dataDir();
    const registry = new AgentRegistry(dir, loadOrCreateServerKey(dir));
    expect(registry.list()).toEqual([]);
    const a = registry.issue('alpha');
    const b = registry.issue('beta');
    expect(registry.list().map((e) => [e.agent, e.keys.map((k) => k.accessKeyId)])).toEqual([
      ['alpha', [a.accessKeyId]],
      ['beta', [b.accessKeyId]],
    ]);
  });

  it('refuses invalid agent names', () => {
    const dir = dataDir();
    const registry = new AgentRegistry(dir, loadOrCreateServerKey(dir));
    expect(() => registry.issue('bad name')).toThrow('Agent name "bad name" is not valid');
    expect(() => registry.issue('')).toThrow(/is not valid/);
  });

  it('revokes one key by id, then every remaining key by agent name', () => {
    const dir = dataDir();
    const registry = new AgentRegistry(dir, loadOrCreateServerKey(dir));
    const k1 = registry.issue('report-1');
    const k2 = registry.issue('report-1');
    const k3 = registry.issue('report-1');
    const other = registry.issue('other');
    expect(registry.revoke(k1.accessKeyId)).toEqual([k1.accessKeyId]);
    expect(registry.lookup(k1.accessKeyId)?.key.revokedAt).toEqual(expect.any(String));
    expect(registry.lookup(k2.accessKeyId)?.key.revokedAt).toBeUndefined();
    expect(registry.revoke(k1.accessKeyId)).toEqual([]);
    expect(registry.revoke('report-1')).toEqual([k2.accessKeyId, k3.accessKeyId]);
    expect(registry.lookup(k3.accessKeyId)?.key.revokedAt).toEqual(expect.any(String));
    expect(registry.lookup(other.accessKeyId)?.key.revokedAt).toBeUndefined();
    expect(registry.revoke('nobody')).toEqual([]);
    const saved = JSON.parse(readFileSync(join(dir, 'agents.json'), 'utf8')) as { agents: Record<string, { keys: Array<{ revokedAt?: string }> }> };
    expect(saved.agents['report-1']?.keys.every((k) => typeof k.revokedAt === 'string')).toBe(true);
    expect(saved.agents.other?.keys[0]?.revokedAt).toBeUndefined();
  });

  it('lets a second instance see a key revoked by the first after ~300 ms', async () => {
    const dir = dataDir();
    const serverKey = loadOrCreateServerKey(dir);
    const cli = new AgentRegistry(dir, serverKey);
    const issued = cli.issue('report-1');
    const proxy = new AgentRegistry(dir, serverKey);
    expect(proxy.lookup(issued.accessKeyId)?.key.revokedAt).toBeUndefined();
    expect(cli.revoke(issued.accessKeyId)).toEqual([issued.accessKeyId]);
    await sleep(300);
    expect(proxy.lookup(issued.accessKeyId)?.key.revokedAt).toEqual(expect.any(String));
  });

  it('lets a second instance see a revocation made well after it loaded', async () => {
    const dir = dataDir();
    const serverKey = loadOrCreateServerKey(dir);
    const cli = new AgentRegistry(dir, serverKey);
    const issued = cli.issue('report-1');
    const proxy = new AgentRegistry(dir, serverKey);
    expect(proxy.lookup(issued.accessKeyId)?.key.revokedAt).toBeUndefined();
    await sleep(50);
    cli.revoke(issued.accessKeyId);
    await sleep(300);
    expect(proxy.lookup(issued.accessKeyId)?.key.revokedAt).toEqual(expect.any(String));
  });

  it('lets a second instance see a key issued by the first after ~300 ms', async () => {
    const dir = dataDir();
    const serverKey = loadOrCreateServerKey(dir);
    const proxy = new AgentRegistry(dir, serverKey);
    const cli = new AgentRegistry(dir, serverKey);
    const issued = cli.issue('late');
    await sleep(300);
    expect(proxy.lookup(issued.accessKeyId)?.agent).toBe('late');
  });

  it('refuses a registry file of another version', () => {
    const dir = dataDir();
    ensureDataDir(dir);
    writeFileSync(join(dir, 'agents.json'), JSON.stringify({ version: 2, agents: {} }));
    expect(() => new AgentRegistry(dir, Buffer.alloc(32))).toThrow(/is not a countersign agent registry \(version 1\)/);
  });
});

describe('identify', () => {
  const NOW = Date.UTC(2024, 0, 2, 3, 4, 5);

  async function signedByAgent(accessKeyId: string, secretAccessKey: string, at: number, host = 'sts.us-east-1.amazonaws.com') {
    const body = Buffer.from('Action=GetCallerIdentity&Version=2011-06-15');
    const headers = { host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
    const signed = await signRequest({ method: 'POST', host, rawPath: '/', query: {}, headers, body }, { accessKeyId, secretAccessKey }, 'us-east-1', 'sts', new Date(at));
    const auth = parseAuthorization(signed.authorization);
    const values: Record<string, string> = {};
    for (const name of auth.signedHeaders) values[name] = signed[name] ?? '';
    return { request: { method: 'POST', host, rawPath: '/', query: {}, headers: values, body }, auth };
  }

  function setup() {
    const dir = dataDir();
    const registry = new AgentRegistry(dir, loadOrCreateServerKey(dir));
    return { registry, issued: registry.issue('report-1') };
  }

  it('resolves an issued key to its agent and secret', () => {
    const { registry, issued } = setup();
    const auth = { accessKeyId: issued.accessKeyId, date: '20240102', region: 'us-east-1', service: 'sts', signedHeaders: ['host'], signature: 'a'.repeat(64) };
    expect(resolveAgentKey(registry, auth)).toEqual({ agent: 'report-1', secret: issued.secretAccessKey });
  });

  it('refuses unknown and revoked keys', async () => {
    const { registry, issued } = setup();
    const auth = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', date: '20240102', region: 'us-east-1', service: 'sts', signedHeaders: ['host'], signature: 'a'.repeat(64) };
    expect(await refusalAsync(() => resolveAgentKey(registry, auth))).toEqual({
      code: 'UnknownAgentKey',
      message: 'The access key AKIAIOSFODNN7EXAMPLE is not a countersign agent key.',
    });
    registry.revoke('report-1');
    const revoked = await refusalAsync(() => resolveAgentKey(registry, { ...auth, accessKeyId: issued.accessKeyId }));
    expect(revoked.code).toBe('RevokedAgentKey');
    expect(revoked.message).toMatch(new RegExp(`^The agent key ${issued.accessKeyId} of agent "report-1" was revoked at \\d{4}-\\d\\d-\\d\\dT`));
  });

  it('refuses an expired key, and takes a key with no expiry (issued before keys had one) as never expiring', async () => {
    const { registry, issued } = setup();
    const auth = { accessKeyId: issued.accessKeyId, date: '20240102', region: 'us-east-1', service: 'sts', signedHeaders: ['host'], signature: 'a'.repeat(64) };
    expect(registry.lookup(issued.accessKeyId)?.key.expiresAt).toBeUndefined();
    expect(resolveAgentKey(registry, auth).agent).toBe('report-1');
    const shortLived = registry.issue('report-1', { ttlMs: 1_000 });
    const live = { ...auth, accessKeyId: shortLived.accessKeyId };
    expect(resolveAgentKey(registry, live).agent).toBe('report-1');
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(shortLived.expiresAt ?? '') - Date.now() + 5)));
    const expired = await refusalAsync(() => resolveAgentKey(registry, live));
    expect(expired).toEqual({ code: 'ExpiredAgentKey', message: `The agent key ${shortLived.accessKeyId} of agent "report-1" expired at ${shortLived.expiresAt}.` });
  });

  it('verifies an agent signature and returns the identity', async () => {
    const { issued } = setup();
    const { request, auth } = await signedByAgent(issued.accessKeyId, issued.secretAccessKey, NOW);
    expect(verifyAgent(request, auth, { agent: 'report-1', secret: issued.secretAccessKey }, NOW + 60_000)).toEqual({
      agent: 'report-1',
      accessKeyId: issued.accessKeyId,
      service: 'sts',
      region: 'us-east-1',
    });
  });

  it('refuses a signature made with another secret', async () => {
    const { issued } = setup();
    const { request, auth } = await signedByAgent(issued.accessKeyId, 'not-the-secret', NOW);
    expect(await refusalAsync(() => verifyAgent(request, auth, { agent: 'report-1', secret: issued.secretAccessKey }, NOW))).toEqual({
      code: 'SignatureMismatch',
      message: 'The signature of agent "report-1" does not verify.',
    });
  });

  it('refuses a clock skew of more than 15 minutes either way', async () => {
    const { issued } = setup();
    const key = { agent: 'report-1', secret: issued.secretAccessKey };
    const { request, auth } = await signedByAgent(issued.accessKeyId, issued.secretAccessKey, NOW);
    expect(verifyAgent(request, auth, key, NOW + MAX_CLOCK_SKEW_MS)).toMatchObject({ agent: 'report-1' });
    expect(verifyAgent(request, auth, key, NOW - MAX_CLOCK_SKEW_MS)).toMatchObject({ agent: 'report-1' });
    const late = await refusalAsync(() => verifyAgent(request, auth, key, NOW + MAX_CLOCK_SKEW_MS + 1000));
    expect(late.code).toBe('RequestTimeSkewed');
    expect(late.message).toBe("X-Amz-Date 20240102T030405Z is 15 minutes from countersign's clock (2024-01-02T03:19:06.000Z).");
    expect((await refusalAsync(() => verifyAgent(request, auth, key, NOW - MAX_CLOCK_SKEW_MS - 1000))).code).toBe('RequestTimeSkewed');
  });

  it('requires host and x-amz-date to be signed and X-Amz-Date to be well formed', async () => {
    const { issued } = setup();
    const key = { agent: 'report-1', secret: issued.secretAccessKey };
    const { request, auth } = await signedByAgent(issued.accessKeyId, issued.secretAccessKey, NOW);
    expect(await refusalAsync(() => verifyAgent(request, { ...auth, signedHeaders: auth.signedHeaders.filter((h) => h !== 'host') }, key, NOW))).toEqual({
      code: 'MalformedAuthorization',
      message: 'SignedHeaders must include host.',
    });
    expect((await refusalAsync(() => verifyAgent(request, { ...auth, signedHeaders: ['host', 'content-type'] }, key, NOW))).code).toBe('MalformedAuthorization');
    expect(await refusalAsync(() => verifyAgent({ ...request, headers: { ...request.headers, 'x-amz-date': '2024-01-02' } }, auth, key, NOW))).toEqual({
      code: 'MalformedAuthorization',
      message: 'X-Amz-Date is missing or not in the form YYYYMMDDTHHMMSSZ.',
    });
  });
});
