// Redis Sentinel failover under held requests (issue 15): a primary, a replica and three
// Sentinels on loopback; two countersign "replicas" (the real ApprovalService and gate over
// RedisApprovalStore connected through the Sentinels, COUNTERSIGN_REDIS_MIN_REPLICAS=1). The
// primary is killed with SIGKILL while requests are held, and the attacks below are tried.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisApprovalStore } from '../../src/approvals/redis-store.js';
import type { RedisSettings } from '../../src/config/redis.js';
import { ApprovalHarness, approvalPolicy, type HoldResult, type RawRequest } from '../support/approval-harness.js';
import { startSentinelGroup, until, type SentinelGroup } from '../support/redis.js';

// Held requests wait up to 4 s here (the harness policy holds 1 s).
const POLICY = approvalPolicy().replace(/holdTimeout: 1s/g, 'holdTimeout: 4s');

const deleteTable = (table: string): RawRequest => ({
  service: 'dynamodb',
  method: 'POST',
  host: '127.0.0.1:8080',
  target: '/',
  headers: [['X-Amz-Target', 'DynamoDB_20120810.DeleteTable'], ['Content-Type', 'application/x-amz-json-1.0']],
  body: JSON.stringify({ TableName: table }),
});

describe('Redis Sentinel failover with requests held', { timeout: 120_000 }, () => {
  let group: SentinelGroup;
  let storeA: RedisApprovalStore;
  let storeB: RedisApprovalStore;
  let a: ApprovalHarness;
  let b: ApprovalHarness;
  const sent: HoldResult[] = [];

  beforeAll(async () => {
    group = await startSentinelGroup();
    const prefix = `failover:${randomUUID()}:`;
    const settings: RedisSettings = { topology: 'sentinel', nodes: group.sentinels, masterName: group.masterName, tls: false, prefix, minReplicas: 1, replicaTimeoutMs: 1000 };
    storeA = new RedisApprovalStore({ redis: settings, prefix });
    storeB = new RedisApprovalStore({ redis: settings, prefix });
    a = new ApprovalHarness(storeA, POLICY);
    b = new ApprovalHarness(storeB, POLICY);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([storeA?.close(), storeB?.close()]);
    await group?.stop();
  });

  /** Every send is kept: across the whole file, one approval never lets more than one request go. */
  async function send(harness: ApprovalHarness, request: RawRequest, holdMs?: number): Promise<HoldResult> {
    const result = await harness.send(request, holdMs);
    sent.push(result);
    return result;
  }

  /** Kills the primary, waits for the Sentinels to promote the replica, and brings the old one back as a replica. */
  async function failover(): Promise<void> {
    const old = await group.primaryPort();
    await group.kill(old);
    await until('the Sentinels to promote the replica', async () => (await group.primaryPort()) !== old);
    await group.restart(old);
    await group.replicated();
  }

  /** A store call that may meet the reconnection after a failover: retried until Redis answers. */
  async function settled<T>(call: () => Promise<T>): Promise<T> {
    let value: T | undefined;
    await until('the store to reach the new primary', async () => {
      value = await call();
      return true;
    });
    return value as T;
  }

  it('held requests are answered when the primary dies; the request survives on the promoted replica, and the retry goes through once approved, once', async () => {
    const request = deleteTable(`orders-${randomUUID()}`);
    const first = await send(a, request, 50);
    expect(first).toMatchObject({ go: false, code: 'ApprovalPending' });
    const id = first.go ? '' : (first.approvalId ?? '');

    const held = [send(a, request), send(b, request)];
    await until('both replicas to hold the request', () => Promise.resolve(a.service.held > 0 && b.service.held > 0));
    await group.kill(await group.primaryPort());
    // Answered, not hung and not let through: pending (retry later) or the store unavailable (retry later).
    for (const answer of await Promise.all(held)) {
      expect(answer.go).toBe(false);
      expect(['ApprovalPending', 'ApprovalStoreUnavailable']).toContain(answer.go ? '' : answer.code);
    }

    const old = [...group.servers.entries()].find(([, server]) => !server.alive)?.[0] ?? 0;
    await until('the Sentinels to promote the replica', async () => (await group.primaryPort()) !== old);
    await group.restart(old);
    await group.replicated();

    // Creating it waited for the replica, so the promoted replica has it, still pending.
    expect(await settled(() => storeB.get(id, Date.now()))).toMatchObject({ id, status: 'pending' });
    expect(await settled(() => storeB.review(id, 'ann', 'approve', 'after the failover', Date.now()))).toMatchObject({ ok: true, record: { status: 'approved' } });

    expect(await send(a, request)).toEqual({ go: true, approvalId: id });
    const again = await send(b, request, 50);
    expect(again).toMatchObject({ go: false, code: 'ApprovalPending' });
    expect(again.go ? '' : again.approvalId).not.toBe(id);
  });

  it('a failover never lets one approval be spent twice', async () => {
    const request = deleteTable(`orders-${randomUUID()}`);
    const first = await send(a, request, 50);
    const id = first.go ? '' : (first.approvalId ?? '');
    expect((await storeA.review(id, 'ann', 'approve', '', Date.now())).ok).toBe(true);
    expect(await send(a, request)).toEqual({ go: true, approvalId: id });

    // The primary dies right after the use: the promoted replica must know the approval is spent.
    await failover();
    expect(await settled(() => storeB.get(id, Date.now()))).toMatchObject({ status: 'consumed', usesLeft: 0 });
    const retry = await send(b, request, 50);
    expect(retry).toMatchObject({ go: false, code: 'ApprovalPending' });
    expect(retry.go ? '' : retry.approvalId).not.toBe(id);
    expect(await storeB.consume(id, Date.now())).toMatchObject({ ok: false, reason: 'used_up' });
  });

  it('a use no replica acknowledged is never acted on (a failover could undo it and spend the approval again)', async () => {
    const request = deleteTable(`orders-${randomUUID()}`);
    const first = await send(a, request, 50);
    const id = first.go ? '' : (first.approvalId ?? '');
    expect((await storeA.review(id, 'ann', 'approve', '', Date.now())).ok).toBe(true);

    const primary = await group.primaryPort();
    const replica = [...group.servers.entries()].find(([port, server]) => port !== primary && server.alive)?.[1];
    expect(replica).toBeDefined();
    replica?.pause();
    try {
      // The agent's request: the replica confirms nothing, so nothing goes upstream.
      expect(await send(a, request)).toMatchObject({ go: false, code: 'ApprovalNotReplicated' });
      // The use itself: recorded on the primary, never acknowledged by the replica: refused.
      await expect(storeA.consume(id, Date.now())).rejects.toMatchObject({ code: 'ApprovalNotReplicated' });
    } finally {
      replica?.resume();
    }
    // Failing closed costs that use (the primary has it): the agent's retry asks anew.
    expect(await storeB.get(id, Date.now())).toMatchObject({ status: 'consumed', usesLeft: 0 });
  });

  it('across all of it, no approval let more than one request go', () => {
    const goes = sent.filter((r): r is Extract<HoldResult, { go: true }> => r.go).map((r) => r.approvalId);
    expect(goes).toHaveLength(2);
    expect(new Set(goes).size).toBe(goes.length);
  });
});
