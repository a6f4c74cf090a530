// The Redis audit sink and the approval store beyond one server: on a real 3-node Redis Cluster
// (one slot for everything one script touches) and on a primary with a replica (WAIT on append).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisApprovalStore } from '../../src/approvals/redis-store.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { verifyChain } from '../../src/audit/chain.js';
import type { AuditEvent, AuditRecord } from '../../src/audit/events.js';
import { createLogger } from '../../src/audit/logger.js';
import { RedisAuditSink } from '../../src/audit/redis-sink.js';
import type { RedisSettings } from '../../src/config/redis.js';
import { draft } from '../support/approval-draft.js';
import { command, startRedisCluster, startReplicatedRedis, until, type RedisClusterServers, type ReplicatedRedis } from '../support/redis.js';

const events = (n: number, from: string): AuditEvent[] => Array.from({ length: n }, (_, i) => ({ event: 'approval.expired', approvalId: `${from}-${i}` }));

async function readAll(sink: RedisAuditSink): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const record of sink.read()) out.push(record);
  return out;
}

describe('on a Redis Cluster', { timeout: 60_000 }, () => {
  let cluster: RedisClusterServers;
  let settings: RedisSettings;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  const clusterSettings = (prefix: string): RedisSettings => ({ topology: 'cluster', nodes: cluster.nodes, tls: false, prefix, minReplicas: 0, replicaTimeoutMs: 500 });

  it('two writers keep one audit chain', async () => {
    const prefix = `audit:${randomUUID()}:`;
    settings = clusterSettings(prefix);
    const a = new RedisAuditSink(settings, prefix);
    const b = new RedisAuditSink(settings, prefix);
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).append(events(3, `w${i}`), i % 2 === 0 ? 'a' : 'b')));
    const stored = await readAll(a);
    expect(stored).toHaveLength(30);
    expect(verifyChain(stored)).toEqual({ count: 30 });
    await Promise.all([a.close(), b.close()]);
  });

  it('every key the store and the audit log write hashes to one slot, on one node', async () => {
    const name = `slot-${randomUUID()}`;
    const prefix = `${name}:`;
    const store = new RedisApprovalStore({ redis: clusterSettings(prefix), prefix });
    const sink = new RedisAuditSink(clusterSettings(prefix), prefix);
    const { record } = await store.findOrCreate(draft({ requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'] }] }), Date.now());
    await store.review(record.id, 'ann', 'approve', '', Date.now());
    await store.consume(record.id, Date.now());
    await sink.append(events(2, 'slot'), 'a');
    const keysByNode = await Promise.all(cluster.nodes.map(async (n) => JSON.parse(await command(n.port, 'KEYS', `{${name}}:*`)) as string[]));
    const holding = keysByNode.filter((keys) => keys.length > 0);
    expect(holding).toHaveLength(1);
    const keys = holding[0] ?? [];
    // The approval, its fingerprint, the index, the audit stream, its head and the writer's key.
    expect(keys.length).toBeGreaterThanOrEqual(6);
    const slots = new Set(await Promise.all(keys.map((key) => command(cluster.nodes[0]!.port, 'CLUSTER', 'KEYSLOT', key))));
    expect(slots.size).toBe(1);
    await Promise.all([store.close(), sink.close()]);
  });
});

describe('audit appends on a primary with a replica (WAIT)', { timeout: 60_000 }, () => {
  let redis: ReplicatedRedis;
  beforeAll(async () => {
    redis = await startReplicatedRedis();
  }, 60_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it('an append no replica acknowledged fails the log closed, and its retry writes each record exactly once', async () => {
    const prefix = `wait:${randomUUID()}:`;
    const settings: RedisSettings = { topology: 'standalone', url: redis.url, nodes: [], tls: false, prefix, minReplicas: 1, replicaTimeoutMs: 300 };
    const sink = new RedisAuditSink(settings, prefix);
    const log = new AuditLog(createLogger('silent'), sink, 'replica-a', { flushMs: 10 });
    try {
      for (const e of events(2, 'before')) log.emit(e);
      // On a loaded machine the replica's first acknowledgement can take longer than 300 ms:
      // the log retries, as it would in production; what follows needs the batch confirmed.
      await until('the first batch to be replicated', async () => {
        await log.flush();
        return log.healthy && log.queueDepth === 0;
      });
      expect(log.healthy).toBe(true);

      redis.replica.pause();
      try {
        for (const e of events(3, 'stalled')) log.emit(e);
        await log.flush();
        // Written on the primary, unconfirmed: not healthy (approvals fail closed), still queued.
        expect(log.healthy).toBe(false);
        expect(log.queueDepth).toBe(3);
      } finally {
        redis.replica.resume();
      }
      await until('the log to recover', async () => {
        await log.flush();
        return log.healthy && log.queueDepth === 0;
      });
      const stored = await readAll(sink);
      expect(stored.map((r) => r.approvalId)).toEqual(['before-0', 'before-1', 'stalled-0', 'stalled-1', 'stalled-2']);
      expect(verifyChain(stored)).toEqual({ count: 5 });
    } finally {
      await log.close();
    }
  });
});
