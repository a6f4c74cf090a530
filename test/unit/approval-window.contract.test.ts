// Approve for a while, held to one contract on every store: the in-memory store and the Redis
// store (its Lua scripts), on a real redis-server and on a real 3-node Redis Cluster (the window
// key declared to each script, in the record's slot), two connections each.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import { RedisApprovalStore } from '../../src/approvals/redis-store.js';
import type { ApprovalDraft, ApprovalStore } from '../../src/approvals/types.js';
import { draft, MINUTE } from '../support/approval-draft.js';
import { startRedis, startRedisCluster, type RedisClusterServers, type RedisServer } from '../support/redis.js';

const T0 = 1_800_000_000_000;
const WINDOW_KEY = () => `change:${randomUUID()}`;

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
    const prefix = `window:${randomUUID()}:`;
    return { a: new RedisApprovalStore({ url: redis.url, prefix }), b: new RedisApprovalStore({ url: redis.url, prefix }) };
  }],
  ['redis cluster', () => {
    const prefix = `window:${randomUUID()}:`;
    const settings = { topology: 'cluster', nodes: cluster.nodes, tls: false, prefix, minReplicas: 0, replicaTimeoutMs: 500 } as const;
    return { a: new RedisApprovalStore({ redis: settings, prefix }), b: new RedisApprovalStore({ redis: settings, prefix }) };
  }],
];

/** One reviewer (ann) of three, a window of up to an hour, under its own window key. */
function windowed(overrides: Partial<ApprovalDraft> = {}): ApprovalDraft {
  return draft({ requirements: [{ rule: 'r', quorum: 1, eligible: ['ann', 'bob', 'cat'] }], maxWindowMs: 60 * MINUTE, windowKey: WINDOW_KEY(), ...overrides });
}

describe.each(stores)('%s store, approve for a while', (_name, make) => {
  let a: ApprovalStore;
  let b: ApprovalStore;
  beforeAll(() => {
    ({ a, b } = make());
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('a window approval is valid for the minutes chosen and serves any number of uses, counting none down', async () => {
    const { record } = await a.findOrCreate(windowed({ maxUses: 1 }), T0);
    const approved = await b.review(record.id, 'ann', 'approve', 'for the migration', T0 + 1, { windowMinutes: 30 });
    expect(approved).toMatchObject({ ok: true, record: { status: 'approved', windowMinutes: 30, approvedUntil: T0 + 1 + 30 * MINUTE } });
    expect(approved.ok && approved.record.reviews[0]).toMatchObject({ reviewer: 'ann', comment: 'for the migration', windowMinutes: 30 });
    for (let i = 0; i < 3; i += 1) expect(await (i % 2 === 0 ? a : b).consume(record.id, T0 + 10 + i, `req-${i}`)).toMatchObject({ ok: true, record: { status: 'approved', usesLeft: 1 } });
    expect(await a.get(record.id, T0 + 20)).toMatchObject({ timesUsed: 3, consumedAt: T0 + 10, lastUse: { requestId: 'req-2', at: T0 + 12 } });
    // When it closes it has served its purpose: consumed, and it serves nothing more.
    expect((await b.get(record.id, T0 + 1 + 30 * MINUTE))?.status).toBe('consumed');
    expect(await a.consume(record.id, T0 + 31 * MINUTE, 'late')).toMatchObject({ ok: false, reason: 'used_up' });
  });

  it('an unused window expires when it closes', async () => {
    const { record } = await a.findOrCreate(windowed(), T0);
    await a.review(record.id, 'ann', 'approve', '', T0, { windowMinutes: 5 });
    expect((await b.get(record.id, T0 + 5 * MINUTE))?.status).toBe('expired');
  });

  it('another request of the same binding (another fingerprint, the same window key) joins the open window; another key does not', async () => {
    const first = windowed();
    const { record } = await a.findOrCreate(first, T0);
    await a.review(record.id, 'ann', 'approve', '', T0 + 1, { windowMinutes: 10 });
    expect(await b.findOrCreate({ ...first, fingerprint: randomUUID() }, T0 + 2)).toMatchObject({ created: false, record: { id: record.id, status: 'approved' } });
    const other = await b.findOrCreate({ ...first, fingerprint: randomUUID(), windowKey: WINDOW_KEY() }, T0 + 3);
    expect(other.created).toBe(true);
    expect(other.record.status).toBe('pending');
    // Once the window closed, the same binding asks anew.
    const after = await a.findOrCreate({ ...first, fingerprint: randomUUID() }, T0 + 1 + 10 * MINUTE);
    expect(after.created).toBe(true);
  });

  it('an approval once never opens a window, even under a window key', async () => {
    const first = windowed();
    const { record } = await a.findOrCreate(first, T0);
    await a.review(record.id, 'ann', 'approve', '', T0);
    expect(await b.get(record.id, T0)).not.toHaveProperty('windowMinutes');
    expect((await b.findOrCreate({ ...first, fingerprint: randomUUID() }, T0 + 1)).created).toBe(true);
  });

  it('with a quorum, the window is the shortest any approver chose, and none when one approved once', async () => {
    const two = { requirements: [{ rule: 'r', quorum: 2, eligible: ['ann', 'bob', 'cat'] }] };
    const { record } = await a.findOrCreate(windowed(two), T0);
    await a.review(record.id, 'ann', 'approve', '', T0, { windowMinutes: 60 });
    expect(await b.review(record.id, 'bob', 'approve', '', T0 + 1, { windowMinutes: 15 })).toMatchObject({ ok: true, record: { status: 'approved', windowMinutes: 15, approvedUntil: T0 + 1 + 15 * MINUTE } });
    const mixed = (await a.findOrCreate(windowed(two), T0)).record;
    await a.review(mixed.id, 'ann', 'approve', '', T0, { windowMinutes: 60 });
    const once = await b.review(mixed.id, 'cat', 'approve', '', T0 + 1);
    expect(once).toMatchObject({ ok: true, record: { status: 'approved', approvedUntil: T0 + 1 + 15 * MINUTE } });
    expect(once.ok && once.record).not.toHaveProperty('windowMinutes');
  });

  it('keeps what AWS answered for the request the approval let go, and only for that request', async () => {
    const { record } = await a.findOrCreate(windowed(), T0);
    await a.review(record.id, 'ann', 'approve', '', T0);
    await b.consume(record.id, T0 + 1, 'req-1');
    await a.recordOutcome(record.id, 'someone-else', 500, T0 + 2);
    expect((await b.get(record.id, T0 + 2))?.lastUse).toEqual({ requestId: 'req-1', at: T0 + 1 });
    await b.recordOutcome(record.id, 'req-1', 204, T0 + 3);
    expect(await a.get(record.id, T0 + 3)).toMatchObject({ status: 'consumed', consumedAt: T0 + 1, timesUsed: 1, lastUse: { requestId: 'req-1', at: T0 + 1, upstreamStatus: 204 } });
  });
});
