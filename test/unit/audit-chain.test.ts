// The hash-chained audit log: verify catches an edit, a deletion and a reordering, in the file
// sink and in the Redis stream sink (two writers sharing one chain), and the writer queues,
// reports and recovers when the durable sink is down.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { chain, chainLines, GENESIS, verifyChain } from '../../src/audit/chain.js';
import type { AuditEvent, AuditRecord } from '../../src/audit/events.js';
import { FileAuditSink } from '../../src/audit/file-sink.js';
import { createLogger } from '../../src/audit/logger.js';
import { RedisAuditSink } from '../../src/audit/redis-sink.js';
import type { AuditSink } from '../../src/audit/sink.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const events = (n: number, from = 0): AuditEvent[] =>
  Array.from({ length: n }, (_, i) => ({ event: 'request.forwarded', requestId: `r${from + i}`, agent: 'bot', actions: ['s3:GetObject'], upstreamStatus: 200 }));

async function readAll(sink: { read(): AsyncIterable<AuditRecord> }): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const r of sink.read()) out.push(r);
  return out;
}

describe('hash chain', () => {
  const records = chain(events(5), GENESIS, 0, 'replica-a');

  it('links every record to the one before and verifies whole', () => {
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(records[0]?.prev).toBe(GENESIS);
    expect(records[1]?.prev).toBe(records[0]?.hash);
    expect(verifyChain(records)).toEqual({ count: 5 });
  });

  it('catches an edited record', () => {
    const edited = records.map((r, i) => (i === 2 ? { ...r, agent: 'someone-else' } : r));
    expect(verifyChain(edited).broken).toMatchObject({ seq: 3, index: 2, reason: expect.stringContaining('altered') as string });
  });

  it('catches a deleted record', () => {
    const deleted = records.filter((_, i) => i !== 1);
    expect(verifyChain(deleted).broken).toMatchObject({ seq: 3, index: 1, reason: expect.stringContaining('does not follow') as string });
  });

  it('catches a reordering', () => {
    const reordered = [records[0], records[2], records[1], records[3], records[4]];
    expect(verifyChain(reordered).broken).toMatchObject({ seq: 3, index: 1 });
  });

  it('catches a re-hashed edit that no longer links', () => {
    const forged = records.map((r) => ({ ...r }));
    const target = forged[2] as unknown as Record<string, unknown>;
    target.agent = 'mallory';
    // Even a forger who recomputes this record's hash breaks the link from the next one.
    const body = { ...target };
    delete body.hash;
    target.hash = chain([body as unknown as AuditEvent], String(target.prev), 2, 'replica-a')[0]?.hash;
    expect(verifyChain(forged).broken?.index).toBeGreaterThanOrEqual(2);
  });
});

describe('file sink', () => {
  it('appends across restarts on one chain, with mode 0600, and verify names an edited line', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cs-audit-')), 'audit.jsonl');
    const first = new FileAuditSink(file);
    await first.append(events(3), 'r1');
    await first.close();
    const second = new FileAuditSink(file);
    await second.append(events(2, 3), 'r1');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(verifyChain(await readAll(second))).toEqual({ count: 5 });
    await second.close();

    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    lines[3] = (lines[3] ?? '').replace('"upstreamStatus":200', '"upstreamStatus":403');
    writeFileSync(file, lines.join('\n') + '\n');
    expect(verifyChain(await readAll(new FileAuditSink(file))).broken).toMatchObject({ seq: 4 });
  });

  it('keeps writing when appends are slower than the flush interval (a busy disk)', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cs-audit-')), 'audit.jsonl');
    const disk = new FileAuditSink(file);
    // The real file sink behind a disk that takes 60 ms a write: flush timers fire mid-append.
    const slow: AuditSink = { kind: 'file', read: () => disk.read(), close: () => disk.close(), append: async (batch, replica) => (await new Promise((r) => setTimeout(r, 60)), disk.append(batch, replica)) };
    const log = new AuditLog(createLogger('silent'), slow, 'a', { flushMs: 5 });
    const settle = async () => {
      const deadline = Date.now() + 5_000;
      while (log.queueDepth > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    const [first, second, third] = events(3);
    log.emit(first as AuditEvent);
    await new Promise((r) => setTimeout(r, 20)); // the first append is under way
    log.emit(second as AuditEvent); // its flush timer fires before that append ends
    await settle();
    log.emit(third as AuditEvent); // must still get a flush of its own
    await new Promise((r) => setTimeout(r, 300));
    expect(log.queueDepth).toBe(0);
    expect((await readAll(disk)).map((r) => r.requestId)).toEqual(['r0', 'r1', 'r2']);
    await log.close();
  });
});

describe('redis stream sink', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('keeps one chain when two replicas append at once', async () => {
    const prefix = `audit-test:${randomUUID()}:`;
    const a = new RedisAuditSink(redis.url, prefix);
    const b = new RedisAuditSink(redis.url, prefix);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).append(events(3, i * 3), i % 2 === 0 ? 'a' : 'b')));
    const stored = await readAll(a);
    expect(stored).toHaveLength(60);
    expect(verifyChain(stored)).toEqual({ count: 60 });
    expect(new Set(stored.map((r) => r.replica))).toEqual(new Set(['a', 'b']));
    await Promise.all([a.close(), b.close()]);
  });

  it('the writer queues while Redis is down, says so, fails approvals closed, and catches up', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    const port = redis.port;
    const prefix = `audit-down:${randomUUID()}:`;
    const sink = new RedisAuditSink(redis.url, prefix);
    const log = new AuditLog(logger, sink, 'a', { flushMs: 10 });
    log.emit(events(1)[0] as AuditEvent);
    await log.flush();
    expect(log.healthy).toBe(true);

    await redis.stop();
    for (const e of events(3, 1)) log.emit(e);
    await log.flush();
    expect(log.healthy).toBe(false);
    expect(log.queueDepth).toBe(3);
    expect(lines.some((l) => l.includes('"event":"audit.sink_unavailable"'))).toBe(true);

    redis = await startRedis(port);
    const deadline = Date.now() + 15_000;
    while ((!log.healthy || log.queueDepth > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(log.healthy).toBe(true);
    expect(log.queueDepth).toBe(0);
    // This test Redis keeps nothing across a restart (production Redis must persist: AOF), so the
    // stream holds what was queued during the outage, behind a record of the one that was lost.
    const stored = await readAll(new RedisAuditSink(redis.url, prefix));
    expect(stored.map((r) => r.requestId ?? r.event)).toEqual(['audit.gap', 'r1', 'r2', 'r3']);
    expect(stored[0]).toMatchObject({ lostFromSeq: 1, lostThroughSeq: 1 });
    expect(verifyChain(stored).broken).toBeUndefined();
    await log.close();
  });
});

describe('chained lines', () => {
  it('stores each record as the canonical JSON its hash covers, with the hash added: one serialisation, and the line verifies', () => {
    const { records, lines } = chainLines(events(3), GENESIS, 0, 'replica-a');
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(records);
    expect(verifyChain(lines.map((line) => JSON.parse(line) as unknown))).toEqual({ count: 3 });
  });
});
