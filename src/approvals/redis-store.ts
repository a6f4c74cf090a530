import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { CountersignError } from '../errors.js';
import { CONSUME, FIND_OR_CREATE, REVIEW } from './redis-scripts.js';
import { newRecord, refreshed } from './transitions.js';
import type { ApprovalDraft, ApprovalRecord, ApprovalStatus, ApprovalStore, ConsumeOutcome, DecisionEvent, ReviewOutcome } from './types.js';

export interface RedisStoreOptions {
  readonly url: string;
  /** Key prefix; for Redis Cluster use a hash tag (`{countersign}:`) so one script's keys share a slot. */
  readonly prefix: string;
  /** How long decided records stay readable (for retries, the CLI and audits). */
  readonly retentionMs?: number;
}

type ScriptRunner = (keys: string[], args: Array<string | number>) => Promise<unknown>;

const CONNECT_TIMEOUT_MS = 2_000;
const SCALAR_FIELDS = ['createdAt', 'expiresAt', 'decidedAt', 'approvedUntil', 'usesLeft', 'consumedAt'] as const;

/**
 * The shared store for several replicas. Every transition is one Lua script (atomic on the
 * server), and every decision is published so the replica holding the agent's connection
 * resumes at once. Commands fail fast while Redis is unreachable (no offline queue), so rules
 * that need approval fail closed with a clear error instead of hanging.
 */
export class RedisApprovalStore implements ApprovalStore {
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly channel: string;
  private readonly retentionMs: number;
  private readonly listeners: Array<(event: DecisionEvent) => void> = [];
  private readonly scripts: { findOrCreate: ScriptRunner; review: ScriptRunner; consume: ScriptRunner };

  constructor(private readonly options: RedisStoreOptions) {
    const common = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: CONNECT_TIMEOUT_MS, retryStrategy: (n: number) => Math.min(n * 200, 2_000) };
    this.redis = new Redis(options.url, common);
    this.subscriber = new Redis(options.url, { ...common, enableOfflineQueue: true });
    // Connection errors surface as refused commands; keep them from becoming unhandled events.
    this.redis.on('error', () => undefined);
    this.subscriber.on('error', () => undefined);
    this.channel = `${options.prefix}decisions`;
    this.retentionMs = options.retentionMs ?? 7 * 24 * 3600 * 1000;
    this.scripts = {
      findOrCreate: this.script(FIND_OR_CREATE),
      review: this.script(REVIEW),
      consume: this.script(CONSUME),
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
    const [chosen, created] = (await this.run(this.scripts.findOrCreate, [this.fingerprintKey(draft.fingerprint), this.recordKey(id), this.indexKey()], [now, id, this.channel, this.recordKey(''), this.retentionMs, ...fields])) as [string, number];
    const record = await this.get(chosen, now);
    if (record === undefined) throw unavailable('the approval record vanished while it was being read');
    return { record, created: created === 1 };
  }

  async get(id: string, now: number): Promise<ApprovalRecord | undefined> {
    const hash = (await this.run(() => this.redis.hgetall(this.recordKey(id)), [], [])) as Record<string, string>;
    return Object.keys(hash).length === 0 ? undefined : refreshed(fromHash(hash), now);
  }

  async list(now: number, status?: ApprovalStatus): Promise<ApprovalRecord[]> {
    const ids = (await this.run(() => this.redis.zrangebyscore(this.indexKey(), now - this.retentionMs, '+inf', 'LIMIT', 0, 1000), [], [])) as string[];
    const records = await Promise.all(ids.map((id) => this.get(id, now)));
    return records.filter((r): r is ApprovalRecord => r !== undefined && (status === undefined || r.status === status));
  }

  async review(id: string, reviewer: string, decision: 'approve' | 'deny', comment: string, now: number): Promise<ReviewOutcome> {
    const outcome = (await this.run(this.scripts.review, [this.recordKey(id)], [now, id, reviewer, decision, comment, this.channel])) as string;
    const record = await this.get(id, now);
    if (outcome === 'ok' && record !== undefined) return { ok: true, record };
    return { ok: false, reason: outcome === 'ok' ? 'not_found' : (outcome as Exclude<ReviewOutcome, { ok: true }>['reason']), ...(record !== undefined && { record }) };
  }

  async consume(id: string, now: number): Promise<ConsumeOutcome> {
    const outcome = (await this.run(this.scripts.consume, [this.recordKey(id)], [now, id, this.channel])) as string;
    const record = await this.get(id, now);
    if (outcome === 'ok' && record !== undefined) return { ok: true, record };
    return { ok: false, reason: outcome === 'ok' ? 'not_found' : (outcome as Exclude<ConsumeOutcome, { ok: true }>['reason']), ...(record !== undefined && { record }) };
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

  private script(source: string): ScriptRunner {
    const name = `cs${randomUUID().replace(/-/g, '').slice(0, 8)}`;
    this.redis.defineCommand(name, { lua: source });
    return (keys, args) => (this.redis as unknown as Record<string, (...a: Array<string | number>) => Promise<unknown>>)[name]!(keys.length, ...keys, ...args);
  }

  /**
   * Waits for the first connection (a store is used right after start-up), but not for a
   * reconnection: while Redis is down, calls fail at once and approve rules fail closed.
   */
  private async connected(): Promise<void> {
    const status = this.redis.status;
    if (status === 'ready' || !['wait', 'connecting', 'connect'].includes(status)) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CONNECT_TIMEOUT_MS);
      this.redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async run(runner: ScriptRunner, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      await this.connected();
      return await runner(keys, args);
    } catch (error) {
      throw unavailable(error instanceof Error ? error.message : String(error));
    }
  }

  private recordKey(id: string): string {
    return `${this.options.prefix}approval:${id}`;
  }

  private fingerprintKey(fingerprint: string): string {
    return `${this.options.prefix}fingerprint:${fingerprint}`;
  }

  private indexKey(): string {
    return `${this.options.prefix}approvals`;
  }
}

function unavailable(why: string): CountersignError {
  return new CountersignError('ApprovalStoreUnavailable', `The approval store (Redis) cannot be used: ${why}.`);
}

function toHash(record: ApprovalRecord): Array<string | number> {
  const fields: Array<string | number> = ['id', record.id, 'fingerprint', record.fingerprint, 'intent', record.intent, 'status', record.status];
  for (const name of SCALAR_FIELDS) {
    const value = record[name];
    if (value !== undefined) fields.push(name, value);
  }
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
  };
}
