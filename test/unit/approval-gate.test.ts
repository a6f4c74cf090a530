// The approval gate holding one request many times over (an agent retrying in a loop), on the
// in-memory store and on Redis with the reviewer on another replica: a one-use approval still
// serves exactly one of them, and on Redis one decision releases them all with a few round
// trips per batch resumed, not several per held request. (In memory a call settles before the next hold
// resumes, so there is nothing to share, and nothing to save.)
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESUME_BATCH } from '../../src/approvals/batched-resume.js';
import { ApprovalGate, type GateResult } from '../../src/approvals/gate.js';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import { RedisApprovalStore } from '../../src/approvals/redis-store.js';
import type { ApprovalStore } from '../../src/approvals/types.js';
import { draft } from '../support/approval-draft.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const HELD = 2_000;
/** Held copies resume a batch per event-loop turn, and each batch shares one read of the record. */
const BATCHES = Math.ceil(HELD / RESUME_BATCH);

type Counted = 'get' | 'consume' | 'findOrCreate';

/** The store itself, with its reads, consumes and findOrCreates counted. */
function counting(store: ApprovalStore): { store: ApprovalStore; calls: Record<Counted, number> } {
  const calls: Record<Counted, number> = { get: 0, consume: 0, findOrCreate: 0 };
  const counted: ApprovalStore = Object.create(store) as ApprovalStore;
  for (const name of Object.keys(calls) as Counted[]) {
    const original = store[name].bind(store) as (...args: unknown[]) => Promise<unknown>;
    Object.defineProperty(counted, name, { value: (...args: unknown[]) => ((calls[name] += 1), original(...args)) });
  }
  return { store: counted, calls };
}

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const stores: Array<[string, { roundTrips: boolean; make: () => { holder: ApprovalStore; reviewer: ApprovalStore } }]> = [
  ['memory', {
    roundTrips: false,
    make: () => {
      const store = new MemoryApprovalStore();
      return { holder: store, reviewer: store };
    },
  }],
  ['redis', {
    roundTrips: true,
    make: () => {
      const prefix = `gate:${randomUUID()}:`;
      return { holder: new RedisApprovalStore({ url: redis.url, prefix }), reviewer: new RedisApprovalStore({ url: redis.url, prefix }) };
    },
  }],
];

describe.each(stores)('approval gate on the %s store', (_name, { roundTrips, make }) => {
  let holder: ApprovalStore;
  let reviewer: ApprovalStore;
  beforeAll(() => {
    ({ holder, reviewer } = make());
  });
  afterAll(async () => {
    await holder.close();
    if (reviewer !== holder) await reviewer.close();
  });

  async function holdMany(maxUses: number) {
    const { store, calls } = counting(holder);
    const created: string[] = [];
    const gate = new ApprovalGate(store, (record) => created.push(record.id));
    const request = draft({ maxUses, requirements: [{ rule: 'r', quorum: 1, eligible: ['ann'] }] });
    // One connection each, as the agent's retries would have.
    const results = Array.from({ length: HELD }, () => gate.pass({ draft: request, holdMs: 60_000, signal: new AbortController().signal, accepts: () => true }));
    const deadline = Date.now() + 20_000;
    while (gate.held < HELD && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(gate.held).toBe(HELD);
    return { gate, calls, created, results };
  }

  async function settled(gate: ApprovalGate, count: number) {
    const deadline = Date.now() + 20_000;
    while (gate.held !== count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(gate.held).toBe(count);
  }

  const kinds = (results: GateResult[]) => results.reduce<Record<string, number>>((n, r) => ({ ...n, [r.kind]: (n[r.kind] ?? 0) + 1 }), {});

  it(`${HELD} holds of one request, a one-use approval: one goes, the rest wait on one new request; a handful of store calls`, async () => {
    const { gate, calls, created, results } = await holdMany(1);
    expect(created).toHaveLength(1);
    Object.assign(calls, { get: 0, consume: 0, findOrCreate: 0 });

    await reviewer.review(created[0] ?? '', 'ann', 'approve', '', Date.now());
    // The one that went is no longer held; the others hold again, on the request opened anew.
    await settled(gate, HELD - 1);
    expect(created).toHaveLength(2);
    if (roundTrips) {
      expect(calls.consume).toBeLessThanOrEqual(3);
      // A read per batch woken, and one per batch holding again on the new request.
      expect(calls.get).toBeLessThanOrEqual(2 * BATCHES + 2);
      expect(calls.findOrCreate).toBeLessThanOrEqual(5);
    }

    await reviewer.review(created[1] ?? '', 'ann', 'deny', 'no', Date.now());
    expect(kinds(await Promise.all(results))).toEqual({ go: 1, denied: HELD - 1 });
  });

  it(`${HELD} holds of one request, a three-use approval: exactly three go`, async () => {
    const { gate, created, results } = await holdMany(3);
    await reviewer.review(created[0] ?? '', 'ann', 'approve', '', Date.now());
    await settled(gate, HELD - 3);
    await reviewer.review(created[1] ?? '', 'ann', 'deny', 'no', Date.now());
    expect(kinds(await Promise.all(results))).toEqual({ go: 3, denied: HELD - 3 });
  });

  it('a denial releases every hold, with one read per batch on Redis', async () => {
    const { calls, created, results } = await holdMany(1);
    Object.assign(calls, { get: 0, consume: 0, findOrCreate: 0 });
    await reviewer.review(created[0] ?? '', 'ann', 'deny', 'no', Date.now());
    expect(kinds(await Promise.all(results))).toEqual({ denied: HELD });
    expect(calls.consume).toBe(0);
    if (roundTrips) expect(calls.get).toBeLessThanOrEqual(BATCHES + 1);
  });
});
