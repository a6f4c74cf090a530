import { Redis } from 'ioredis';
import { chainLines, GENESIS } from './chain.js';
import type { AuditEvent, AuditRecord } from './events.js';
import type { AuditSink } from './sink.js';

/**
 * Appends a batch only if the log's head is still the one the batch was chained from; otherwise
 * returns the real head so the writer re-chains and tries again. Replicas share one chain this
 * way without Redis having to compute SHA-256.
 * KEYS: stream, head. ARGV: expected "seq hash", new head "seq hash", records (JSON)...
 */
const APPEND = `
local head = redis.call('GET', KEYS[2]) or '0 ${GENESIS}'
if head ~= ARGV[1] then return {0, head} end
for i = 3, #ARGV do redis.call('XADD', KEYS[1], '*', 'r', ARGV[i]) end
redis.call('SET', KEYS[2], ARGV[2])
return {1, ARGV[2]}
`;

const MAX_RACES = 100;

/** The shared durable log for replicas: a Redis stream, one hash chain across all of them. */
export class RedisAuditSink implements AuditSink {
  readonly kind = 'redis';
  private readonly redis: Redis;
  private head = `0 ${GENESIS}`;
  private readonly stream: string;
  private readonly headKey: string;
  /** Appends from this process go one at a time; only other replicas can move the head under us. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(url: string, prefix: string) {
    this.redis = new Redis(url, { enableOfflineQueue: true, maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: (n: number) => Math.min(n * 200, 2_000) });
    this.redis.on('error', () => undefined);
    this.redis.defineCommand('countersignAuditAppend', { numberOfKeys: 2, lua: APPEND });
    this.stream = `${prefix}audit`;
    this.headKey = `${prefix}audit:head`;
  }

  append(events: readonly AuditEvent[], replica: string): Promise<AuditRecord[]> {
    const next = this.tail.then(() => this.appendNow(events, replica));
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async appendNow(events: readonly AuditEvent[], replica: string): Promise<AuditRecord[]> {
    for (let race = 0; race < MAX_RACES; race++) {
      const [seqText = '0', hash = GENESIS] = this.head.split(' ');
      const { records, lines } = chainLines(events, hash, Number(seqText), replica);
      const last = records[records.length - 1];
      if (last === undefined) return [];
      const next = `${last.seq} ${last.hash}`;
      const redis = this.redis as unknown as { countersignAuditAppend(this: void, ...args: string[]): Promise<[number, string]> };
      const [ok, head] = await redis.countersignAuditAppend(this.stream, this.headKey, this.head, next, ...lines);
      this.head = head;
      if (ok === 1) return records;
    }
    throw new Error('the audit stream head kept moving; too many replicas racing');
  }

  async *read(): AsyncIterable<AuditRecord> {
    let from = '-';
    for (;;) {
      const batch = await this.redis.xrange(this.stream, from, '+', 'COUNT', 1000);
      for (const [, fields] of batch) {
        const index = fields.indexOf('r');
        if (index !== -1 && fields[index + 1] !== undefined) yield JSON.parse(fields[index + 1] ?? '{}') as AuditRecord;
      }
      const lastId = batch[batch.length - 1]?.[0];
      if (batch.length < 1000 || lastId === undefined) return;
      from = `(${lastId}`;
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
