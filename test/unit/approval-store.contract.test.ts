// One contract, three stores: the in-memory store (single node), the Redis store (replicas) on a
// real redis-server, and the same store on a real 3-node Redis Cluster (every script's keys in
// one slot through the hash-tagged prefix; MOVED/ASK followed by ioredis's Cluster client).
// Races are run for real against Redis through two connections.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import { RedisApprovalStore } from '../../src/approvals/redis-store.js';
import type { ApprovalStore, DecisionEvent } from '../../src/approvals/types.js';
import { draft, MINUTE } from '../support/approval-draft.js';
import { startRedis, startRedisCluster, type RedisClusterServers, type RedisServer } from '../support/redis.js';

const T0 = 1_800_000_000_000;

let redis: RedisServer;
let cluster: RedisClusterServers;
beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

const stores: Array<[string, () => { a: ApprovalStore; b: ApprovalStore }]> = [
  ['memory', () => {
    const store = new MemoryApprovalStore();
    return { a: store, b: store };
  }],
  ['redis', () => {
    const prefix = `test:${randomUUID()}:`;
    return { a: new RedisApprovalStore({ url: redis.url, prefix }), b: new RedisApprovalStore({ url: redis.url, prefix }) };
  }],
  ['redis cluster', () => {
    // No hash tag given: the store adds one ({test:...}:), or multi-key scripts would fail CROSSSLOT.
    const prefix = `test:${randomUUID()}:`;
    const settings = { topology: 'cluster', nodes: cluster.nodes, tls: false, prefix, minReplicas: 0, replicaTimeoutMs: 500 } as const;
    return { a: new RedisApprovalStore({ redis: settings, prefix }), b: new RedisApprovalStore({ redis: settings, prefix }) };
  }],
];

describe.each(stores)('%s approval store', (_name, make) => {
  let a: ApprovalStore;
  let b: ApprovalStore;
  beforeAll(() => {
    ({ a, b } = make());
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('creates one pending record per fingerprint; a retry joins it', async () => {
    const d = draft();
    const first = await a.findOrCreate(d, T0);
    expect(first.created).toBe(true);
    expect(first.record).toMatchObject({ status: 'pending', createdAt: T0, expiresAt: T0 + 15 * MINUTE, usesLeft: 1, reviews: [] });
    const again = await b.findOrCreate(d, T0 + 1000);
    expect(again).toMatchObject({ created: false, record: { id: first.record.id } });
  });

  it('needs a quorum of distinct eligible reviewers; one reviewer counts once', async () => {
    const { record } = await a.findOrCreate(draft(), T0);
    expect((await a.review(record.id, 'ann', 'approve', 'ok', T0 + 1)).ok).toBe(true);
    expect(await b.review(record.id, 'ann', 'approve', 'again', T0 + 2)).toMatchObject({ ok: false, reason: 'already_reviewed' });
    expect((await a.get(record.id, T0 + 3))?.status).toBe('pending');
    const second = await b.review(record.id, 'bob', 'approve', 'fine', T0 + 4);
    expect(second).toMatchObject({ ok: true, record: { status: 'approved', decidedAt: T0 + 4, approvedUntil: T0 + 4 + 15 * MINUTE } });
    expect(second.ok && second.record.reviews.map((r) => r.reviewer)).toEqual(['ann', 'bob']);
  });

  it('refuses owners and reviewers who are not eligible', async () => {
    const { record } = await a.findOrCreate(draft(), T0);
    expect(await a.review(record.id, 'olga', 'approve', '', T0)).toMatchObject({ ok: false, reason: 'owner' });
    expect(await a.review(record.id, 'mallory', 'approve', '', T0)).toMatchObject({ ok: false, reason: 'not_eligible' });
    expect(await a.review('no-such-id', 'ann', 'approve', '', T0)).toMatchObject({ ok: false, reason: 'not_found' });
  });

  it('a single deny denies, and the record then takes no reviews', async () => {
    const { record } = await a.findOrCreate(draft(), T0);
    await a.review(record.id, 'ann', 'approve', '', T0);
    expect(await b.review(record.id, 'cat', 'deny', 'not today', T0 + 1)).toMatchObject({ ok: true, record: { status: 'denied' } });
    expect(await a.review(record.id, 'bob', 'approve', '', T0 + 2)).toMatchObject({ ok: false, reason: 'not_pending' });
  });

  it('a denied request retried within its window gets the same denial, not a new request', async () => {
    const d = draft({ requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'] }] });
    const { record } = await a.findOrCreate(d, T0);
    await a.review(record.id, 'ann', 'deny', 'no', T0 + 1);
    expect(await b.findOrCreate(d, T0 + 2)).toMatchObject({ created: false, record: { id: record.id, status: 'denied' } });
    expect((await b.findOrCreate(d, T0 + 16 * MINUTE)).created).toBe(true);
  });

  it('pending requests expire: a review at the deadline is refused', async () => {
    const { record } = await a.findOrCreate(draft(), T0);
    expect(await a.review(record.id, 'ann', 'approve', '', T0 + 15 * MINUTE)).toMatchObject({ ok: false, reason: 'expired' });
    expect((await b.get(record.id, T0 + 15 * MINUTE))?.status).toBe('expired');
  });

  it('an approval is used once by default, then a retry opens a new request', async () => {
    const d = draft({ requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'] }] });
    const { record } = await a.findOrCreate(d, T0);
    expect(await a.consume(record.id, T0)).toMatchObject({ ok: false, reason: 'not_approved' });
    await a.review(record.id, 'ann', 'approve', '', T0 + 1);
    expect(await b.findOrCreate(d, T0 + 2)).toMatchObject({ created: false, record: { id: record.id, status: 'approved' } });
    expect(await a.consume(record.id, T0 + 3)).toMatchObject({ ok: true, record: { status: 'consumed', usesLeft: 0, consumedAt: T0 + 3 } });
    expect(await b.consume(record.id, T0 + 4)).toMatchObject({ ok: false, reason: 'used_up' });
    expect((await b.findOrCreate(d, T0 + 5)).created).toBe(true);
  });

  it('an approval with maxUses 2 serves two retries, and expires after its validity', async () => {
    const { record } = await a.findOrCreate(draft({ maxUses: 2, requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'] }] }), T0);
    await a.review(record.id, 'ann', 'approve', '', T0);
    expect(await a.consume(record.id, T0 + 1)).toMatchObject({ ok: true, record: { status: 'approved', usesLeft: 1 } });
    expect(await b.consume(record.id, T0 + 15 * MINUTE)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('a read is one intent: its first use takes the one use, the same read rides on it until its validity ends, then it is consumed', async () => {
    const d = draft({ intent: 'read', requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'] }] });
    const { record } = await a.findOrCreate(d, T0);
    await a.review(record.id, 'ann', 'approve', '', T0);
    expect(await a.consume(record.id, T0 + 1)).toMatchObject({ ok: true, record: { status: 'approved', usesLeft: 0, consumedAt: T0 + 1 } });
    // The GET after the HEAD, a ranged read, a second replica: the same record, no new request.
    expect(await b.findOrCreate(d, T0 + 2)).toMatchObject({ created: false, record: { id: record.id, status: 'approved' } });
    expect(await b.consume(record.id, T0 + 3)).toMatchObject({ ok: true, record: { status: 'approved', usesLeft: 0, consumedAt: T0 + 1 } });
    expect(await a.consume(record.id, T0 + 15 * MINUTE)).toMatchObject({ ok: false, reason: 'used_up' });
    expect((await b.get(record.id, T0 + 15 * MINUTE))?.status).toBe('consumed');
    expect((await a.findOrCreate(d, T0 + 15 * MINUTE)).created).toBe(true);
  });

  it('a read nobody used expires at the end of its validity', async () => {
    const { record } = await a.findOrCreate(draft({ intent: 'read', requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'] }] }), T0);
    await a.review(record.id, 'ann', 'approve', '', T0);
    expect(await b.consume(record.id, T0 + 15 * MINUTE)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('a change spends a use on every send, whatever maxUses allows of the same request', async () => {
    const d = draft({ intent: 'change', maxUses: 2, requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'] }] });
    const { record } = await a.findOrCreate(d, T0);
    await a.review(record.id, 'ann', 'approve', '', T0);
    expect(await a.consume(record.id, T0 + 1)).toMatchObject({ ok: true, record: { status: 'approved', usesLeft: 1 } });
    expect(await b.consume(record.id, T0 + 2)).toMatchObject({ ok: true, record: { status: 'consumed', usesLeft: 0 } });
    expect(await a.consume(record.id, T0 + 3)).toMatchObject({ ok: false, reason: 'used_up' });
  });

  it('keeps the binding the reviewers saw and the intent, as written', async () => {
    const d = draft({ intent: 'read' });
    const { record } = await a.findOrCreate(d, T0);
    expect(await b.get(record.id, T0)).toMatchObject({ intent: 'read', context: { binding: d.context.binding } });
  });

  it('two retries racing for a one-use approval: exactly one wins', async () => {
    const { record } = await a.findOrCreate(draft({ requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'] }] }), T0);
    await a.review(record.id, 'ann', 'approve', '', T0);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).consume(record.id, T0 + 1)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it('reviewers racing: approvals past the quorum and a late deny resolve to one outcome', async () => {
    const { record } = await a.findOrCreate(draft({ requirements: [{ rule: 'r', quorum: 2, eligible: ['ann', 'bob', 'cat', 'dan'] }] }), T0);
    const results = await Promise.all([
      a.review(record.id, 'ann', 'approve', '', T0),
      b.review(record.id, 'bob', 'approve', '', T0),
      a.review(record.id, 'cat', 'deny', '', T0),
      b.review(record.id, 'dan', 'approve', '', T0),
    ]);
    const final = await a.get(record.id, T0);
    const accepted = results.filter((r) => r.ok).length;
    // Whatever the interleaving, the record ended approved or denied, once, and no review was accepted after that.
    expect(['approved', 'denied']).toContain(final?.status);
    expect(final?.reviews).toHaveLength(accepted);
  });

  it('approve racing expiry: at the deadline nothing is approved', async () => {
    const { record } = await a.findOrCreate(draft({ requirements: [{ rule: 'r', quorum: 1, eligible: ['ann', 'bob'] }] }), T0);
    const [late, early] = await Promise.all([a.review(record.id, 'ann', 'approve', '', T0 + 15 * MINUTE), b.review(record.id, 'bob', 'approve', '', T0 + 15 * MINUTE - 1)]);
    const final = await a.get(record.id, T0 + 15 * MINUTE - 1);
    expect(late.ok && early.ok).toBe(false);
    expect(final?.status === 'approved').toBe(early.ok);
  });

  it('publishes decisions so every replica hears them', async () => {
    const heard: DecisionEvent[] = [];
    b.onDecision((event) => heard.push(event));
    await new Promise((r) => setTimeout(r, 100)); // let a fresh subscription settle
    const { record } = await a.findOrCreate(draft({ requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'] }] }), T0);
    await a.review(record.id, 'ann', 'approve', '', T0);
    const deadline = Date.now() + 2_000;
    while (!heard.some((e) => e.id === record.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(heard).toContainEqual({ id: record.id, status: 'approved' });
  });

  it('a new pending request is listed past a thousand older records', async () => {
    for (let i = 0; i < 1_000; i++) await a.findOrCreate(draft(), T0 - 1_000 + i);
    const { record } = await a.findOrCreate(draft(), T0);
    const pending = await b.list(T0 + 1, 'pending');
    // Other tests' records share the store: the listing is capped, and the new one is in it.
    expect(pending.length).toBeLessThanOrEqual(1_000);
    expect(pending.map((r) => r.id)).toContain(record.id);
  });

  it('lists records with their status', async () => {
    const { record } = await a.findOrCreate(draft(), T0);
    const pending = await b.list(T0 + 1, 'pending');
    expect(pending.map((r) => r.id)).toContain(record.id);
    expect(pending.every((r) => r.status === 'pending')).toBe(true);
  });
});

describe('redis approval store with Redis down', () => {
  it('fails fast with ApprovalStoreUnavailable', async () => {
    const store = new RedisApprovalStore({ url: 'redis://127.0.0.1:1', prefix: 'down:' });
    const started = Date.now();
    await expect(store.findOrCreate(draft(), T0)).rejects.toMatchObject({ code: 'ApprovalStoreUnavailable' });
    await expect(store.ping()).rejects.toMatchObject({ code: 'ApprovalStoreUnavailable' });
    expect(Date.now() - started).toBeLessThan(10_000);
    await store.close();
  });
});
