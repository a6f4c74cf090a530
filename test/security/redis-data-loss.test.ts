// Redis restarted empty (data loss, issue 15): a real redis-server without persistence is
// restarted under a pending approval, a held request and a hash-chained audit stream. Nothing
// that was pending may come back approved, and the audit chain must say records were lost
// instead of starting a fresh chain that looks complete.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisApprovalStore } from '../../src/approvals/redis-store.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import type { AuditRecord } from '../../src/audit/events.js';
import { createLogger } from '../../src/audit/logger.js';
import { RedisAuditSink } from '../../src/audit/redis-sink.js';
import { runCommand } from '../../src/cli/args.js';
import { auditCommands } from '../../src/cli/audit.js';
import { ApprovalHarness, type HoldResult, type RawRequest } from '../support/approval-harness.js';
import { startRedis, until, type RedisServer } from '../support/redis.js';

const deleteTable = (table: string): RawRequest => ({
  service: 'dynamodb',
  method: 'POST',
  host: '127.0.0.1:8080',
  target: '/',
  headers: [['X-Amz-Target', 'DynamoDB_20120810.DeleteTable'], ['Content-Type', 'application/x-amz-json-1.0']],
  body: JSON.stringify({ TableName: table }),
});

describe('Redis restarted empty', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  const prefix = `data-loss:${randomUUID()}:`;
  let store: RedisApprovalStore;
  let harness: ApprovalHarness;

  beforeAll(async () => {
    redis = await startRedis();
    store = new RedisApprovalStore({ url: redis.url, prefix });
    harness = new ApprovalHarness(store);
  });
  afterAll(async () => {
    await store?.close();
    await redis?.stop();
  });

  async function restartEmpty(): Promise<void> {
    await redis.stop();
    redis = await startRedis(redis.port);
  }

  it('a pending approval lost with the data is refused cleanly and never comes back approved', async () => {
    const request = deleteTable(`orders-${randomUUID()}`);
    const first = await harness.send(request, 50);
    expect(first).toMatchObject({ go: false, code: 'ApprovalPending' });
    const lost = first.go ? '' : (first.approvalId ?? '');

    const held = harness.send(request);
    await until('the request to be held', () => Promise.resolve(harness.service.held > 0));
    await restartEmpty();
    const answer = await held;
    expect(answer.go).toBe(false);
    expect(['ApprovalPending', 'ApprovalStoreUnavailable']).toContain(answer.go ? '' : answer.code);

    // The reviewer's link for the lost request finds nothing to approve.
    let review: Awaited<ReturnType<RedisApprovalStore['review']>> | undefined;
    await until('the store to reconnect', async () => {
      review = await store.review(lost, 'ann', 'approve', '', Date.now());
      return true;
    });
    expect(review).toMatchObject({ ok: false, reason: 'not_found' });

    // The agent's retry is a new request, pending: it needs a reviewer again.
    const retry: HoldResult = await harness.send(request, 50);
    expect(retry).toMatchObject({ go: false, code: 'ApprovalPending' });
    const reopened = retry.go ? '' : (retry.approvalId ?? '');
    expect(reopened).not.toBe(lost);
    expect(await store.get(reopened, Date.now())).toMatchObject({ status: 'pending', reviews: [] });
  });

  it('the audit chain records the gap instead of silently starting a new chain, and audit verify says so', async () => {
    const auditPrefix = `${prefix}log:`;
    const sink = new RedisAuditSink(redis.url, auditPrefix);
    const log = new AuditLog(createLogger('silent'), sink, 'replica-a', { flushMs: 10 });
    try {
      for (const n of [1, 2, 3]) log.emit({ event: 'approval.expired', approvalId: `before-${n}` });
      await log.flush();
      const before: AuditRecord[] = [];
      for await (const record of sink.read()) before.push(record);
      expect(before).toHaveLength(3);

      await restartEmpty();
      for (const n of [1, 2]) log.emit({ event: 'approval.expired', approvalId: `after-${n}` });
      await until('the log to write again', async () => {
        await log.flush();
        return log.healthy && log.queueDepth === 0;
      });

      const after: AuditRecord[] = [];
      for await (const record of sink.read()) after.push(record);
      expect(after.map((r) => r.approvalId ?? r.event)).toEqual(['audit.gap', 'after-1', 'after-2']);
      expect(after[0]).toMatchObject({ lostFromSeq: 1, lostThroughSeq: 3, lastKnownHash: before[2]?.hash, replica: 'replica-a' });

      const out: string[] = [];
      const io = { out: (line: string) => out.push(line), err: (line: string) => out.push(line), env: { COUNTERSIGN_REDIS_URL: redis.url, COUNTERSIGN_REDIS_PREFIX: auditPrefix, COUNTERSIGN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'cs-data-loss-')) } };
      const verify = auditCommands.commands.find((c) => c.spec.name === 'audit verify');
      expect(verify).toBeDefined();
      expect(await runCommand(verify!, [], io)).toBe(0);
      expect(out.join('\n')).toContain(`GAP at seq 1: records 1-3 as replica replica-a knew them are lost`);
      expect(out.join('\n')).toContain(before[2]?.hash ?? 'missing');
    } finally {
      await log.close();
    }
  });
});
