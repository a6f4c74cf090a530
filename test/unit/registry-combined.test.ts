// With Redis configured, the data directory's agents.json keeps working next to it (the CLI
// without --server, the chart's Secret): a real redis-server, two replicas with data
// directories of their own, and the CLI's file registry writing into one of them.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileAgentRegistry, loadOrCreateServerKey } from '../../src/identity/registry.js';
import { openAgentRegistry } from '../../src/identity/registry-setup.js';
import type { AgentRegistry, KeyChange } from '../../src/identity/registry-types.js';
import { standaloneSettings } from '../../src/redis/connect.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let redis: RedisServer;
const dirs: string[] = [];
const open: AgentRegistry[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const registry of open.splice(0)) await registry.close();
  await redis?.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'cs-combined-')), 'data');
  dirs.push(dir);
  return dir;
}

async function replica(dir: string, serverKey: Buffer, prefix: string, changes: KeyChange[] = []): Promise<AgentRegistry> {
  const setup = openAgentRegistry({ dataDir: dir, serverKey, redis: { settings: standaloneSettings(redis.url, prefix), prefix }, onChange: (c) => changes.push(c) });
  await setup.ready();
  open.push(setup.registry);
  return setup.registry;
}

async function eventually<T>(read: () => T, check: (value: T) => boolean, within = 4_000): Promise<T> {
  const deadline = Date.now() + within;
  for (;;) {
    const value = read();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('the Redis registry with the data directory next to it', () => {
  it("a key the CLI writes into a replica's data directory works there at once, then on every replica; a revocation there too", async () => {
    const prefix = `test:${randomUUID()}:`;
    const dirA = dataDir();
    const serverKey = loadOrCreateServerKey(dirA);
    const changes: KeyChange[] = [];
    const a = await replica(dirA, serverKey, prefix, changes);
    const b = await replica(dataDir(), serverKey, prefix);
    const cli = new FileAgentRegistry(dirA, serverKey);
    const key = cli.issue('cli-bot', { ttlMs: 86_400_000 });
    expect((await eventually(() => a.lookup(key.accessKeyId), (f) => f !== undefined, 1_000))?.agent).toBe('cli-bot');
    expect((await eventually(() => b.lookup(key.accessKeyId), (f) => f !== undefined))?.key.expiresAt).toBe(key.expiresAt);
    expect(b.secretFor(key.accessKeyId)).toBe(key.secretAccessKey);
    expect(changes).toContainEqual({ kind: 'issued', agent: 'cli-bot', accessKeyId: key.accessKeyId, expiresAt: key.expiresAt });
    expect((await b.list()).find((e) => e.agent === 'cli-bot')?.keys.map((k) => k.accessKeyId)).toEqual([key.accessKeyId]);

    cli.revoke(key.accessKeyId);
    expect((await eventually(() => a.lookup(key.accessKeyId), (f) => f?.key.revokedAt !== undefined, 1_000))?.key.revokedAt).toEqual(expect.any(String));
    expect((await eventually(() => b.lookup(key.accessKeyId), (f) => f?.key.revokedAt !== undefined))?.key.revokedAt).toEqual(expect.any(String));
  });

  it('a revocation made through Redis stands whatever agents.json says, and an agent revoked in either is revoked at the later time', async () => {
    const prefix = `test:${randomUUID()}:`;
    const dir = dataDir();
    const serverKey = loadOrCreateServerKey(dir);
    const cli = new FileAgentRegistry(dir, serverKey);
    const fileOnly = cli.issue('old-bot');
    const a = await replica(dir, serverKey, prefix);
    const b = await replica(dataDir(), serverKey, prefix);
    // Revoked through the admin API (Redis); the file never hears of it.
    expect(await b.revoke(fileOnly.accessKeyId)).toEqual([fileOnly.accessKeyId]);
    expect((await eventually(() => a.lookup(fileOnly.accessKeyId), (f) => f?.key.revokedAt !== undefined))?.key.revokedAt).toEqual(expect.any(String));
    expect(cli.lookup(fileOnly.accessKeyId)?.key.revokedAt).toBeUndefined();
    // A restart takes agents.json in again: the key stays revoked.
    const restarted = await replica(dir, serverKey, prefix);
    expect(restarted.lookup(fileOnly.accessKeyId)?.key.revokedAt).toEqual(expect.any(String));

    await b.revoke('old-bot');
    const inRedis = await eventually(() => a.revokedAt('old-bot'), (at) => at !== undefined);
    await new Promise((r) => setTimeout(r, 5));
    cli.revoke('old-bot');
    const inFile = cli.revokedAt('old-bot') ?? '';
    expect(inFile > (inRedis ?? '')).toBe(true);
    expect(await eventually(() => a.revokedAt('old-bot'), (at) => at === inFile, 1_000)).toBe(inFile);
  });
});
