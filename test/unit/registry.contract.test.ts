// One contract, every registry: the data directory's file, Redis (a real redis-server) and a
// real 3-node Redis Cluster, each as two instances ("replicas") over the same state, so a change
// made through one must reach the other. Waits are bounded polls on the condition, never sleeps as the assertion.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveAgentSecret, looksLikeAgentKeyId } from '../../src/identity/agent-keys.js';
import { FileAgentRegistry, loadOrCreateServerKey } from '../../src/identity/registry.js';
import { RedisAgentRegistry } from '../../src/identity/registry-redis.js';
import type { AgentRegistry, KeyChange } from '../../src/identity/registry-types.js';
import { refusalAsync } from '../support/refusal.js';
import { startRedis, startRedisCluster, type RedisClusterServers, type RedisServer } from '../support/redis.js';

let redis: RedisServer;
let cluster: RedisClusterServers;
const dirs: string[] = [];
beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Pair {
  a: AgentRegistry;
  b: AgentRegistry;
  serverKey: Buffer;
  changes: KeyChange[];
}

const registries: Array<[string, () => Promise<Pair>]> = [
  ['file', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'countersign-contract-')), 'data');
    dirs.push(dir);
    const serverKey = loadOrCreateServerKey(dir);
    const changes: KeyChange[] = [];
    return Promise.resolve({ a: new FileAgentRegistry(dir, serverKey, (c) => changes.push(c)), b: new FileAgentRegistry(dir, serverKey), serverKey, changes });
  }],
  ['redis', async () => {
    const prefix = `test:${randomUUID()}:`;
    const serverKey = Buffer.alloc(32, 7);
    const changes: KeyChange[] = [];
    const a = new RedisAgentRegistry(serverKey, { redis: redis.url, prefix, onChange: (c) => changes.push(c) });
    const b = new RedisAgentRegistry(serverKey, { redis: redis.url, prefix });
    await Promise.all([a.ready(), b.ready()]);
    return { a, b, serverKey, changes };
  }],
  ['redis cluster', async () => {
    // No hash tag given: the registry adds one, or its scripts and MULTI would fail CROSSSLOT.
    const prefix = `test:${randomUUID()}:`;
    const settings = { topology: 'cluster', nodes: cluster.nodes, tls: false, prefix, minReplicas: 0, replicaTimeoutMs: 500 } as const;
    const serverKey = Buffer.alloc(32, 8);
    const changes: KeyChange[] = [];
    const a = new RedisAgentRegistry(serverKey, { redis: settings, prefix, onChange: (c) => changes.push(c) });
    const b = new RedisAgentRegistry(serverKey, { redis: settings, prefix });
    await Promise.all([a.ready(5_000), b.ready(5_000)]);
    return { a, b, serverKey, changes };
  }],
];

/** Polls until `check` holds (the other replica learns of a change within about a second). */
async function eventually<T>(read: () => T, check: (value: T) => boolean, within = 3_000): Promise<T> {
  const deadline = Date.now() + within;
  for (;;) {
    const value = read();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(registries)('%s agent registry', (_name, make) => {
  let a: AgentRegistry;
  let b: AgentRegistry;
  let serverKey: Buffer;
  let changes: KeyChange[];
  beforeAll(async () => {
    ({ a, b, serverKey, changes } = await make());
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('issues a key with an expiry that the other replica finds, with the same derived secret', async () => {
    const before = Date.now();
    const issued = await a.issue('alpha', { ttlMs: 30 * 86_400_000 });
    expect(looksLikeAgentKeyId(issued.accessKeyId)).toBe(true);
    expect(issued.secretAccessKey).toBe(deriveAgentSecret(serverKey, issued.accessKeyId));
    expect(Date.parse(issued.expiresAt ?? '') - Date.parse(issued.createdAt)).toBe(30 * 86_400_000);
    expect(Date.parse(issued.createdAt)).toBeGreaterThanOrEqual(before);
    const found = await eventually(() => b.lookup(issued.accessKeyId), (f) => f !== undefined);
    expect(found).toEqual({ agent: 'alpha', key: { accessKeyId: issued.accessKeyId, createdAt: issued.createdAt, expiresAt: issued.expiresAt } });
    expect(b.secretFor(issued.accessKeyId)).toBe(issued.secretAccessKey);
    expect(changes).toContainEqual({ kind: 'issued', agent: 'alpha', accessKeyId: issued.accessKeyId, expiresAt: issued.expiresAt });
  });

  it('issues a key without an expiry when no lifetime is given', async () => {
    const issued = await a.issue('forever');
    expect(issued.expiresAt).toBeUndefined();
    expect((await eventually(() => b.lookup(issued.accessKeyId), (f) => f !== undefined))?.key.expiresAt).toBeUndefined();
  });

  it('takes agent names that are also names of object properties as names', async () => {
    for (const agent of ['constructor', 'toString', 'hasOwnProperty']) {
      const issued = await a.issue(agent);
      expect((await eventually(() => b.lookup(issued.accessKeyId), (f) => f !== undefined))?.agent).toBe(agent);
      expect(b.revokedAt(agent)).toBeUndefined();
    }
    const listing = await b.list();
    expect(listing.find((e) => e.agent === 'constructor')).toEqual({ agent: 'constructor', keys: [expect.objectContaining({ accessKeyId: expect.stringMatching(/^CSAK/) as unknown })] });
    expect(await a.revoke('toString')).toHaveLength(1);
    expect(await eventually(() => b.revokedAt('toString'), (at) => at !== undefined)).toMatch(/^\d{4}-/);
  });

  it('refuses invalid agent names and finds nothing for an unknown key id', async () => {
    await expect(async () => a.issue('bad name')).rejects.toThrow('Agent name "bad name" is not valid');
    expect(b.lookup('CSAKAAAAAAAAAAAAAAAA')).toBeUndefined();
  });

  it('a key revoked on one replica is revoked on the other; revoking it again revokes nothing', async () => {
    const k1 = await a.issue('beta');
    const k2 = await a.issue('beta');
    await eventually(() => b.lookup(k1.accessKeyId), (f) => f !== undefined);
    expect(await b.revoke(k1.accessKeyId)).toEqual([k1.accessKeyId]);
    const seen = await eventually(() => a.lookup(k1.accessKeyId), (f) => f?.key.revokedAt !== undefined);
    expect(seen?.key.revokedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(a.lookup(k2.accessKeyId)?.key.revokedAt).toBeUndefined();
    expect(a.revokedAt('beta')).toBeUndefined();
    expect(await b.revoke(k1.accessKeyId)).toEqual([]);
  });

  it('revoking an agent revokes all its keys and records when, on every replica; a key issued after works', async () => {
    const k1 = await a.issue('gamma');
    const k2 = await a.issue('gamma');
    const other = await a.issue('delta');
    await eventually(() => b.lookup(k2.accessKeyId), (f) => f !== undefined);
    expect((await b.revoke('gamma')).sort()).toEqual([k1.accessKeyId, k2.accessKeyId].sort());
    const revokedAt = await eventually(() => a.revokedAt('gamma'), (at) => at !== undefined);
    expect(revokedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(a.lookup(k1.accessKeyId)?.key.revokedAt).toBe(revokedAt);
    expect(a.lookup(k2.accessKeyId)?.key.revokedAt).toBe(revokedAt);
    expect(a.lookup(other.accessKeyId)?.key.revokedAt).toBeUndefined();
    await new Promise((r) => setTimeout(r, 2)); // a later millisecond than the revocation
    const fresh = await b.issue('gamma');
    expect((await eventually(() => a.lookup(fresh.accessKeyId), (f) => f !== undefined))?.key.revokedAt).toBeUndefined();
  });

  it('revokes an agent by name even when it has no key here (its session credentials carry only its name)', async () => {
    expect(await a.revoke('workload-only')).toEqual([]);
    expect(await eventually(() => b.revokedAt('workload-only'), (at) => at !== undefined)).toMatch(/^\d{4}-/);
    expect(await a.revoke('not a name')).toEqual([]);
    expect(await a.revoke('CSAKAAAAAAAAAAAAAAAA')).toEqual([]); // an unknown key id, never an agent of that name
    expect(a.revokedAt('CSAKAAAAAAAAAAAAAAAA')).toBeUndefined();
    expect(a.revokedAt('not a name')).toBeUndefined();
  });

  // Last in the suite: it closes a (close writes the last uses still pending; afterAll closes again).
  it('lists agents by name with created, expires, revoked and last use; last use is written on close at the latest', async () => {
    const used = await a.issue('epsilon', { ttlMs: 3_600_000 });
    const idle = await a.issue('epsilon');
    await a.revoke(idle.accessKeyId);
    const at = Date.UTC(2030, 0, 2, 3, 4, 5);
    a.recordUse(used.accessKeyId, at);
    a.recordUse(used.accessKeyId, at + 1_000); // within a minute of the last: not written again
    await a.close();
    const listing = await b.list();
    expect(listing.map((e) => e.agent)).toEqual([...listing.map((e) => e.agent)].sort());
    const epsilon = listing.find((e) => e.agent === 'epsilon');
    expect(epsilon?.keys).toEqual([
      { accessKeyId: used.accessKeyId, createdAt: used.createdAt, expiresAt: used.expiresAt, lastUsedAt: new Date(at).toISOString() },
      { accessKeyId: idle.accessKeyId, createdAt: idle.createdAt, revokedAt: epsilon?.keys[1]?.revokedAt },
    ]);
    expect(epsilon?.keys[1]?.revokedAt).toMatch(/^\d{4}-/);
    expect(listing.find((e) => e.agent === 'gamma')?.revokedAt).toMatch(/^\d{4}-/);
    const workloadOnly = listing.find((e) => e.agent === 'workload-only');
    expect(workloadOnly).toEqual({ agent: 'workload-only', revokedAt: workloadOnly?.revokedAt, keys: [] });
    expect(workloadOnly?.revokedAt).toMatch(/^\d{4}-/);
  });
});

describe('redis agent registry', () => {
  it('keeps every key under the configured prefix', async () => {
    const prefix = `{cs-${randomUUID()}}:`;
    const registry = new RedisAgentRegistry(Buffer.alloc(32, 1), { redis: redis.url, prefix });
    await registry.ready();
    const issued = await registry.issue('layout');
    registry.recordUse(issued.accessKeyId);
    await registry.revoke('layout');
    await registry.close();
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys(`*${prefix.slice(1, -2)}*`);
      expect(keys.sort()).toEqual([`${prefix}agents:keys`, `${prefix}agents:revoked`, `${prefix}agents:used`, `${prefix}agents:version`]);
    } finally {
      client.disconnect();
    }
  });

  it('identifies nobody before it has read the registry, and once Redis has been unreachable too long', async () => {
    const prefix = `test:${randomUUID()}:`;
    const own = await startRedis();
    const registry = new RedisAgentRegistry(Buffer.alloc(32, 1), { redis: own.url, prefix, staleMs: 300 });
    const unread = new RedisAgentRegistry(Buffer.alloc(32, 1), { redis: `redis://127.0.0.1:${own.port}`, prefix: `${prefix}x:` });
    expect((await refusalAsync(() => unread.lookup('CSAKAAAAAAAAAAAAAAAA'))).code).toBe('AgentRegistryUnavailable');
    await unread.close();
    try {
      await registry.ready();
      const issued = await registry.issue('stale');
      expect(registry.lookup(issued.accessKeyId)?.agent).toBe('stale');
      await own.stop();
      const failed = await eventuallyAsync(() => refusalAsync(() => registry.revokedAt('stale')).catch(() => undefined));
      expect(failed?.code).toBe('AgentRegistryUnavailable');
      expect((await refusalAsync(() => registry.lookup(issued.accessKeyId))).code).toBe('AgentRegistryUnavailable');
      expect((await refusalAsync(() => registry.issue('stale'))).code).toBe('AgentRegistryUnavailable');
    } finally {
      await registry.close();
      await own.stop();
    }
  });

  it('takes a data directory registry in: new keys as they are, revocations applied, nothing revoked in Redis undone', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'countersign-import-')), 'data');
    dirs.push(dir);
    const serverKey = loadOrCreateServerKey(dir);
    const file = new FileAgentRegistry(dir, serverKey);
    const kept = file.issue('old-bot', { ttlMs: 86_400_000 });
    const revokedInFile = file.issue('old-bot');
    const revokedInRedis = file.issue('old-bot');
    const registry = new RedisAgentRegistry(serverKey, { redis: redis.url, prefix: `test:${randomUUID()}:` });
    try {
      await registry.ready();
      expect(await registry.importListing(file.list())).toBe(3);
      await registry.revoke(revokedInRedis.accessKeyId);
      file.revoke(revokedInFile.accessKeyId);
      expect(await registry.importListing(file.list())).toBe(0);
      expect(registry.lookup(kept.accessKeyId)?.key).toEqual({ accessKeyId: kept.accessKeyId, createdAt: kept.createdAt, expiresAt: kept.expiresAt });
      expect(registry.lookup(revokedInFile.accessKeyId)?.key.revokedAt).toEqual(expect.any(String));
      expect(registry.lookup(revokedInRedis.accessKeyId)?.key.revokedAt).toEqual(expect.any(String));
      expect(registry.secretFor(kept.accessKeyId)).toBe(kept.secretAccessKey);
    } finally {
      await registry.close();
    }
  });
});

async function eventuallyAsync<T>(read: () => Promise<T | undefined>, within = 3_000): Promise<T | undefined> {
  const deadline = Date.now() + within;
  for (;;) {
    const value = await read();
    if (value !== undefined || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}
