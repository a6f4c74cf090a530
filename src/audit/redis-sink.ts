import { randomUUID } from 'node:crypto';
import { hashTagged, type RedisSettings } from '../config/redis.js';
import { connectRedis, standaloneSettings, type RedisClient } from '../redis/connect.js';
import { defineScript, NotReplicatedError, type Durability, type Script } from '../redis/script.js';
import { chainLines, GENESIS } from './chain.js';
import type { AuditEvent, AuditRecord } from './events.js';
import type { AuditSink } from './sink.js';

/**
 * Appends a batch only if the log's head is still the one the batch was chained from; otherwise
 * returns the real head so the writer re-chains and tries again. Replicas share one chain this
 * way without Redis having to compute SHA-256. Each writer keeps the id of its last batch in one
 * key, written with the records (so a failover keeps both or neither): an append whose
 * replication could not be confirmed is retried as the same batch, and is a no-op if it landed.
 * (One key per writer, not per batch: a writer's appends go one at a time, so only its last
 * batch can be the unconfirmed one.)
 * KEYS: stream, head, writer's last batch. ARGV: expected "seq hash", new head "seq hash", key ms, batch id, records (JSON)...
 * Returns {1, head} appended, {2, head} appended before, {0, head} the head moved.
 */
const APPEND = `
local head = redis.call('GET', KEYS[2]) or '0 ${GENESIS}'
if redis.call('GET', KEYS[3]) == ARGV[4] then return {2, head} end
if head ~= ARGV[1] then return {0, head} end
for i = 5, #ARGV do redis.call('XADD', KEYS[1], '*', 'r', ARGV[i]) end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[3])
return {1, ARGV[2]}
`;

const MAX_RACES = 100;
/** A writer's last-batch key outlives any retry by far, and a writer gone for a day. */
const MARKER_MS = 24 * 3600 * 1000;

/** A chained batch sent once; kept while its replication is unconfirmed, so a retry sends the same bytes. */
interface Attempt {
  readonly first: AuditEvent;
  readonly count: number;
  readonly id: string;
  readonly expected: string;
  readonly next: string;
  readonly records: AuditRecord[];
  readonly lines: string[];
}

const seqOf = (head: string): number => Number(head.split(' ')[0] ?? 0);

/**
 * The shared durable log for replicas: a Redis stream, one hash chain across all of them.
 *
 * Redis can lose data: a restart without persistence, or a failover to a replica that had not
 * received the tail. The chain never lies about it: a replica that finds the head behind the
 * one it last wrote or read appends an `audit.gap` record (the range it knew that is gone, and
 * the last hash it saw) before anything else, so `audit verify` reports the gap instead of a
 * fresh, seemingly complete chain. Appends wait for `minReplicas` replicas (WAIT) and fail
 * otherwise (the log turns unhealthy and approvals fail closed).
 */
export class RedisAuditSink implements AuditSink {
  readonly kind = 'redis';
  private readonly redis: RedisClient;
  private head = `0 ${GENESIS}`;
  private readonly stream: string;
  private readonly headKey: string;
  private readonly prefix: string;
  private readonly script: Script;
  private readonly durability: Durability;
  private readonly writerKey: string;
  private attempt: Attempt | undefined;
  /** What this replica knew that the log no longer has: the last head it saw (set when the head went back). */
  private lost: { readonly seq: number; readonly hash: string } | undefined;
  /** Appends from this process go one at a time; only other replicas can move the head under us. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(redis: RedisSettings | string, prefix: string) {
    const settings = typeof redis === 'string' ? standaloneSettings(redis, prefix) : redis;
    this.prefix = settings.topology === 'cluster' ? hashTagged(prefix) : prefix;
    this.redis = connectRedis(settings, { offlineQueue: true });
    this.script = defineScript(this.redis, APPEND);
    this.durability = { minReplicas: settings.minReplicas, timeoutMs: settings.replicaTimeoutMs };
    this.stream = `${this.prefix}audit`;
    this.headKey = `${this.prefix}audit:head`;
    this.writerKey = `${this.prefix}audit:writer:${randomUUID()}`;
  }

  append(events: readonly AuditEvent[], replica: string): Promise<AuditRecord[]> {
    const next = this.tail.then(() => this.appendNow(events, replica));
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async appendNow(events: readonly AuditEvent[], replica: string): Promise<AuditRecord[]> {
    if (events.length === 0) return [];
    const stored: AuditRecord[] = [];
    let rest = events;
    const retry = this.attempt;
    if (retry !== undefined && rest[0] === retry.first && rest.length >= retry.count) {
      // The batch sent last time: the same bytes again, so a batch that did land is not written twice.
      const landed = await this.send(retry);
      if (landed) {
        stored.push(...retry.records);
        rest = rest.slice(retry.count);
      }
    }
    this.attempt = undefined;
    for (let race = 0; race < MAX_RACES && rest.length > 0; race++) {
      const attempt = this.chain(rest, replica);
      if (await this.send(attempt)) {
        stored.push(...attempt.records.slice(attempt.records.length - rest.length));
        return stored;
      }
    }
    if (rest.length === 0) return stored;
    throw new Error('the audit stream head kept moving; too many replicas racing');
  }

  /** Chains events after the known head, behind an audit.gap record when the log lost records this replica knew. */
  private chain(events: readonly AuditEvent[], replica: string): Attempt {
    const [seqText = '0', hash = GENESIS] = this.head.split(' ');
    const gap = this.lost === undefined ? [] : [gapEvent(this.lost, seqOf(this.head))];
    const { records, lines } = chainLines([...gap, ...events], hash, Number(seqText), replica);
    const last = records[records.length - 1];
    return { first: events[0] as AuditEvent, count: events.length, id: randomUUID(), expected: this.head, next: `${last?.seq ?? 0} ${last?.hash ?? GENESIS}`, records, lines };
  }

  /** Sends one chained batch; true when it is in the log (now or before), false when the head moved. */
  private async send(attempt: Attempt): Promise<boolean> {
    const keys = [this.stream, this.headKey, this.writerKey];
    let reply: [number, string];
    try {
      reply = (await this.script.runDurable(keys, [attempt.expected, attempt.next, MARKER_MS, attempt.id, ...attempt.lines], this.durability)) as [number, string];
    } catch (error) {
      // Landed on the primary, unconfirmed on the replicas: remember it, so the retry does not write it twice.
      if (error instanceof NotReplicatedError) this.attempt = attempt;
      throw error;
    }
    const [ok, head] = reply;
    if (ok !== 0) {
      this.head = head;
      if (attempt.records[0]?.event === 'audit.gap') this.lost = undefined;
      return true;
    }
    const known = this.head;
    if (seqOf(head) < seqOf(known) && this.lost === undefined) {
      const [, hash = GENESIS] = known.split(' ');
      this.lost = { seq: seqOf(known), hash };
    }
    this.head = head;
    return false;
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

/** The record that says records were lost: which ones this replica knew, and the last hash it saw (compare with a kept head). */
function gapEvent(lost: { seq: number; hash: string }, resumedAfter: number): AuditEvent {
  return {
    event: 'audit.gap',
    lostFromSeq: resumedAfter + 1,
    lostThroughSeq: lost.seq,
    lastKnownHash: lost.hash,
    reason: resumedAfter === 0 ? 'the Redis audit stream was found empty (Redis lost its data)' : 'the Redis audit stream was found behind the head this replica had seen (a failover lost its tail)',
  };
}
