import { randomUUID } from 'node:crypto';
import { hashTagged, type RedisSettings } from '../config/redis.js';
import { CountersignError } from '../errors.js';
import { connectRedis, firstConnection, standaloneSettings, type RedisClient } from '../redis/connect.js';
import { defineScript, NotReplicatedError, type Durability } from '../redis/script.js';
import { CONSUME, FIND_OR_CREATE, RECORD_OUTCOME, REVIEW } from './redis-scripts.js';
import { newRecord, refreshed } from './transitions.js';
import type { ApprovalDraft, ApprovalRecord, ApprovalStatus, ApprovalStore, ApprovalUse, ConsumeOutcome, DecisionEvent, ReviewOptions, ReviewOutcome } from './types.js';
import { LIST_LIMIT } from './types.js';

/** Records read per page of a listing, and at most in all (the index holds the retention window). */
const LIST_PAGE = 500;
const LIST_SCAN_MAX = 20_000;

export interface RedisStoreOptions {
  /** Redis as configured (one server, Sentinel, Cluster); or `url` for one server. */
  readonly redis?: RedisSettings;
  readonly url?: string;
  /** Key prefix; on a Cluster it always carries a hash tag (`{countersign}:`), so one script's keys share a slot. */
  readonly prefix: string;
  /** How long decided records stay readable (for retries, the CLI and audits). */
  readonly retentionMs?: number;
}

type ScriptRunner = (keys: string[], args: Array<string | number>) => Promise<unknown>;
const SCALAR_FIELDS = ['createdAt', 'expiresAt', 'decidedAt', 'approvedUntil', 'usesLeft', 'consumedAt', 'maxWindowMs', 'windowMinutes', 'timesUsed'] as const;

/**
 * The shared store for several replicas. Every transition is one Lua script (atomic on the
 * server), and every decision is published so the replica holding the agent's connection
 * resumes at once. Commands fail fast while Redis is unreachable (no offline queue), so rules
 * that need approval fail closed with a clear error instead of hanging.
 *
 * Across a failover (docs/approvals.md, "Failover"): creating a request, a review and a consume
 * return only once `minReplicas` replicas hold them (WAIT), so a promoted replica knows the
 * request, the decision and every use; otherwise the call fails closed with
 * ApprovalNotReplicated. On a Cluster every key of one script hashes to one slot through the
 * hash-tagged prefix.
 */
export class RedisApprovalStore implements ApprovalStore {
  private readonly redis: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly prefix: string;
  private readonly channel: string;
  private readonly retentionMs: number;
  private readonly durability: Durability;
  private readonly listeners: Array<(event: DecisionEvent) => void> = [];
  private readonly scripts: { findOrCreate: ScriptRunner; review: ScriptRunner; consume: ScriptRunner; recordOutcome: ScriptRunner };

  constructor(options: RedisStoreOptions) {
    const settings = options.redis ?? standaloneSettings(options.url ?? '', options.prefix);
    this.prefix = settings.topology === 'cluster' ? hashTagged(options.prefix) : options.prefix;
    this.redis = connectRedis(settings, { offlineQueue: false });
    this.subscriber = connectRedis(settings, { offlineQueue: true });
    this.channel = `${this.prefix}decisions`;
    this.retentionMs = options.retentionMs ?? 7 * 24 * 3600 * 1000;
    this.durability = { minReplicas: settings.minReplicas, timeoutMs: settings.replicaTimeoutMs };
    this.scripts = {
      findOrCreate: this.script(FIND_OR_CREATE, true),
      review: this.script(REVIEW, true),
      consume: this.script(CONSUME, true),
      recordOutcome: this.script(RECORD_OUTCOME),
    };
    void this.subscriber.subscribe(this.channel).catch(() => undefined);
    this.subscriber.on('message', (_channel: string, message: string) => {
      let event: DecisionEvent;
      try {
        event = JSON.parse(message) as DecisionEvent;
      } catch {
        return;
      }
      for (const listener of this.listeners) listener(event);
    });
  }

  async findOrCreate(draft: ApprovalDraft, now: number): Promise<{ record: ApprovalRecord; created: boolean }> {
    const id = randomUUID();
    const fields = toHash(newRecord(id, draft, now));
    const keys = [this.fingerprintKey(draft.fingerprint), this.recordKey(id), this.indexKey(), ...(draft.windowKey === undefined ? [] : [this.windowKey(draft.windowKey)])];
    const [chosen, created] = (await this.run(this.scripts.findOrCreate, keys, [now, id, this.channel, this.recordKey(''), this.retentionMs, ...fields])) as [string, number];
    const record = await this.get(chosen, now);
    if (record === undefined) throw unavailable('the approval record vanished while it was being read');
    return { record, created: created === 1 };
  }

  async get(id: string, now: number): Promise<ApprovalRecord | undefined> {
    const hash = (await this.run(() => this.redis.hgetall(this.recordKey(id)), [], [])) as Record<string, string>;
    return Object.keys(hash).length === 0 ? undefined : refreshed(fromHash(hash), now);
  }

  async list(now: number, status?: ApprovalStatus): Promise<ApprovalRecord[]> {
    // Newest first, a page at a time, until LIST_LIMIT match: the oldest 1,000 of a busy week
    // would hide every new pending request. The scan is bounded all the same.
    const found: ApprovalRecord[] = [];
    for (let offset = 0; found.length < LIST_LIMIT && offset < LIST_SCAN_MAX; offset += LIST_PAGE) {
      const ids = (await this.run(() => this.redis.zrevrangebyscore(this.indexKey(), '+inf', now - this.retentionMs, 'LIMIT', offset, LIST_PAGE), [], [])) as string[];
      const records = await Promise.all(ids.map((id) => this.get(id, now)));
      for (const r of records) if (r !== undefined && (status === undefined || r.status === status) && found.length < LIST_LIMIT) found.push(r);
      if (ids.length < LIST_PAGE) break;
    }
    return found.sort((a, b) => a.createdAt - b.createdAt);
  }

  async review(id: string, reviewer: string, decision: 'approve' | 'deny', comment: string, now: number, options: ReviewOptions = {}): Promise<ReviewOutcome> {
    const window = options.windowMinutes === undefined ? '' : String(options.windowMinutes);
    // A record's window key is fixed when it is made: read first, so the script declares every key it writes (one slot on a Cluster).
    const windowKey = options.windowMinutes === undefined ? null : ((await this.run(() => this.redis.hget(this.recordKey(id), 'windowKey'), [], [])) as string | null);
    const keys = [this.recordKey(id), ...(windowKey === null ? [] : [this.windowKey(windowKey)])];
    const outcome = (await this.run(this.scripts.review, keys, [now, id, reviewer, decision, comment, this.channel, window])) as string;
    const record = await this.get(id, now);
    if (outcome === 'ok' && record !== undefined) return { ok: true, record };
    return { ok: false, reason: outcome === 'ok' ? 'not_found' : (outcome as Exclude<ReviewOutcome, { ok: true }>['reason']), ...(record !== undefined && { record }) };
  }

  async consume(id: string, now: number, requestId?: string): Promise<ConsumeOutcome> {
    const outcome = (await this.run(this.scripts.consume, [this.recordKey(id)], [now, id, this.channel, requestId ?? ''])) as string;
    const record = await this.get(id, now);
    if (outcome === 'ok' && record !== undefined) return { ok: true, record };
    return { ok: false, reason: outcome === 'ok' ? 'not_found' : (outcome as Exclude<ConsumeOutcome, { ok: true }>['reason']), ...(record !== undefined && { record }) };
  }

  async recordOutcome(id: string, requestId: string, upstreamStatus: number | undefined, _now: number): Promise<void> {
    await this.run(this.scripts.recordOutcome, [this.recordKey(id)], [requestId, upstreamStatus === undefined ? '' : upstreamStatus]);
  }

  onDecision(listener: (event: DecisionEvent) => void): void {
    this.listeners.push(listener);
  }

  async ping(): Promise<void> {
    await this.run(() => this.redis.ping(), [], []);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    this.subscriber.disconnect();
    return Promise.resolve();
  }

  /**
   * Durable: the write must reach the replicas before anyone acts on it (a request the agent is
   * told is pending, a decision, a use). Reads of a record need not.
   */
  private script(source: string, durable = false): ScriptRunner {
    const script = defineScript(this.redis, source);
    return durable ? (keys, args) => script.runDurable(keys, args, this.durability) : (keys, args) => script.run(keys, args);
  }

  /**
   * Waits for the first connection (a store is used right after start-up), but not for a
   * reconnection: while Redis is down, calls fail at once and approve rules fail closed.
   */
  private async run(runner: ScriptRunner, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      await firstConnection(this.redis);
      return await runner(keys, args);
    } catch (error) {
      if (error instanceof NotReplicatedError) throw notReplicated(error);
      throw unavailable(error instanceof Error ? error.message : String(error));
    }
  }

  private recordKey(id: string): string {
    return `${this.prefix}approval:${id}`;
  }

  private fingerprintKey(fingerprint: string): string {
    return `${this.prefix}fingerprint:${fingerprint}`;
  }

  /** Where a record approved for a while is found by its binding (see binding.ts, windowKey). */
  private windowKey(key: string): string {
    return `${this.prefix}window:${key}`;
  }

  private indexKey(): string {
    return `${this.prefix}approvals`;
  }
}

function unavailable(why: string): CountersignError {
  return new CountersignError('ApprovalStoreUnavailable', `The approval store (Redis) cannot be used: ${why}.`);
}

/** The change is on the primary only: acting on it could let a failover undo it (one approval spent twice). */
function notReplicated(error: NotReplicatedError): CountersignError {
  return new CountersignError('ApprovalNotReplicated', `The approval store (Redis) could not confirm the change on a replica: ${error.message}. Nothing was sent on its strength.`);
}

function toHash(record: ApprovalRecord): Array<string | number> {
  const fields: Array<string | number> = ['id', record.id, 'fingerprint', record.fingerprint, 'intent', record.intent, 'status', record.status];
  for (const name of SCALAR_FIELDS) {
    const value = record[name];
    if (value !== undefined) fields.push(name, value);
  }
  if (record.windowKey !== undefined) fields.push('windowKey', record.windowKey);
  if (record.lastUse !== undefined) fields.push('lastUse', JSON.stringify(record.lastUse));
  fields.push('context', JSON.stringify(record.context), 'requirements', JSON.stringify(record.requirements), 'reviews', JSON.stringify(record.reviews));
  return fields;
}

function fromHash(hash: Record<string, string>): ApprovalRecord {
  const number = (name: string) => (hash[name] === undefined ? undefined : Number(hash[name]));
  const reviews = JSON.parse(hash.reviews ?? '[]') as ApprovalRecord['reviews'] | Record<string, never>;
  const optional = (name: (typeof SCALAR_FIELDS)[number]) => (number(name) === undefined ? {} : { [name]: number(name) });
  return {
    id: hash.id ?? '',
    fingerprint: hash.fingerprint ?? '',
    // Anything but a read counts every use (records written before intents were bound, too).
    intent: hash.intent === 'read' ? 'read' : 'change',
    status: (hash.status ?? 'expired') as ApprovalStatus,
    context: JSON.parse(hash.context ?? '{}') as ApprovalRecord['context'],
    requirements: JSON.parse(hash.requirements ?? '[]') as ApprovalRecord['requirements'],
    reviews: Array.isArray(reviews) ? reviews : [],
    createdAt: number('createdAt') ?? 0,
    expiresAt: number('expiresAt') ?? 0,
    usesLeft: number('usesLeft') ?? 0,
    ...optional('decidedAt'),
    ...optional('approvedUntil'),
    ...optional('consumedAt'),
    ...optional('maxWindowMs'),
    ...optional('windowMinutes'),
    ...optional('timesUsed'),
    ...(hash.windowKey !== undefined && { windowKey: hash.windowKey }),
    ...(hash.lastUse !== undefined && { lastUse: JSON.parse(hash.lastUse) as ApprovalUse }),
  };
}
