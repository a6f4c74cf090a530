import { hashTagged, type RedisSettings } from '../config/redis.js';
import { CountersignError } from '../errors.js';
import { connectRedis, standaloneSettings, type RedisClient } from '../redis/connect.js';
import { AGENT_NAME_PATTERN, AgentSecretCache, looksLikeAgentKeyId, newAccessKeyId } from './agent-keys.js';
import { revokedWithAgent, validAgentName } from './registry-file.js';
import { LastUseRecorder } from './registry-last-use.js';
import { ISSUE, REVOKE_AGENT, REVOKE_KEY } from './registry-redis-scripts.js';
import type { AgentKeyLookup, AgentKeyRecord, AgentListing, AgentRegistry, IssuedAgentKey, IssueOptions, KeyChange } from './registry-types.js';

export interface RedisRegistryOptions {
  /** Redis as configured (one server, Sentinel or Cluster), or one server's URL (tests). */
  readonly redis: RedisSettings | string;
  /** Key prefix (the approvals' one); `{countersign}:` keeps every registry key in one Cluster slot. */
  readonly prefix: string;
  /** Told of the changes this replica makes (the replica that makes a change audits it). */
  readonly onChange?: (change: KeyChange) => void;
  /** Default REGISTRY_STALE_MS (tests shorten it). */
  readonly staleMs?: number;
}

/** Replicas poll the version this often, so a change whose message was missed still lands within a second. */
const POLL_MS = 1_000;
/**
 * Fail closed: with no successful look at Redis for this long, a replica cannot know what was
 * revoked meanwhile, so it identifies nobody until Redis answers again.
 */
export const REGISTRY_STALE_MS = 30_000;
/** A key id nobody here knows makes one early look at Redis (it may have been issued a moment ago), at most this often. */
const MISS_SYNC_MS = 100;
const FIRST_SYNC_WAIT_MS = 2_000;

interface StoredKey {
  readonly agent: string;
  readonly createdAt: string;
  readonly expiresAt?: string;
  readonly revokedAt?: string;
}

/**
 * The registry shared by every replica, in Redis. Each replica serves lookups from a snapshot:
 * a change bumps a version and publishes it; a replica re-reads the registry when the message
 * arrives, and polls the version every POLL_MS in case a message was lost. Changes are Lua
 * scripts (registry-redis-scripts.ts), so an agent revoked while a key is issued cannot leave
 * that key active (and lookup() treats any key created before its agent's revocation as revoked).
 */
export class RedisAgentRegistry implements AgentRegistry {
  private readonly redis: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly keys: { readonly keys: string; readonly revoked: string; readonly version: string; readonly used: string; readonly channel: string };
  private byKeyId = new Map<string, AgentKeyLookup>();
  private revokedAgents = new Map<string, string>();
  private readonly secrets: AgentSecretCache;
  private version: string | null | undefined;
  private lastSyncOkAt = 0;
  private missSyncAt = 0;
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  private readonly poll: NodeJS.Timeout;
  private readonly uses: LastUseRecorder;
  private readonly firstSync: Promise<void>;

  constructor(
    serverKey: Buffer,
    private readonly options: RedisRegistryOptions,
  ) {
    this.secrets = new AgentSecretCache(serverKey);
    const settings = typeof options.redis === 'string' ? standaloneSettings(options.redis, options.prefix) : options.redis;
    // Changes fail at once while Redis is down (a clear error, never a queued guess); the subscription waits for it.
    this.redis = connectRedis(settings, { offlineQueue: false });
    this.subscriber = connectRedis(settings, { offlineQueue: true });
    // A Cluster runs a script only on keys of one slot: the prefix always carries a hash tag there.
    const p = settings.topology === 'cluster' ? hashTagged(options.prefix) : options.prefix;
    this.keys = { keys: `${p}agents:keys`, revoked: `${p}agents:revoked`, version: `${p}agents:version`, used: `${p}agents:used`, channel: `${p}agents:changed` };
    this.firstSync = new Promise((resolve) => this.redis.once('ready', () => void this.sync().finally(resolve)));
    void this.subscriber.subscribe(this.keys.channel).catch(() => undefined);
    this.subscriber.on('message', () => void this.sync());
    this.poll = setInterval(() => void this.sync(), POLL_MS);
    this.poll.unref();
    this.uses = new LastUseRecorder(async (batch) => {
      await this.redis.hset(this.keys.used, Object.fromEntries(batch));
    });
  }

  /** Resolves once the first look at Redis is done, or after timeoutMs (lookups then fail closed until it is). */
  ready(timeoutMs = FIRST_SYNC_WAIT_MS): Promise<void> {
    return Promise.race([this.firstSync, new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  /** Answers when Redis does (for readiness). */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  lookup(accessKeyId: string): AgentKeyLookup | undefined {
    this.assertFresh();
    const found = this.byKeyId.get(accessKeyId);
    if (found === undefined) {
      const now = Date.now();
      if (now - this.missSyncAt >= MISS_SYNC_MS) {
        this.missSyncAt = now;
        void this.sync();
      }
    }
    return found;
  }

  revokedAt(agent: string): string | undefined {
    this.assertFresh();
    return this.revokedAgents.get(agent);
  }

  secretFor(accessKeyId: string): string {
    return this.secrets.secretFor(accessKeyId);
  }

  recordUse(accessKeyId: string, at: number = Date.now()): void {
    this.uses.note(accessKeyId, at);
  }

  async issue(agent: string, options: IssueOptions = {}): Promise<IssuedAgentKey> {
    validAgentName(agent);
    const now = Date.now();
    const createdAt = new Date(now).toISOString();
    const expiresAt = options.ttlMs === undefined ? undefined : new Date(now + options.ttlMs).toISOString();
    const stored: StoredKey = { agent, createdAt, ...(expiresAt !== undefined && { expiresAt }) };
    for (let attempt = 0; attempt < 3; attempt++) {
      const accessKeyId = newAccessKeyId();
      const added = await this.run(ISSUE, [accessKeyId, JSON.stringify(stored)]);
      if (added === null) continue; // an id already taken (80 random bits: only ever by chance)
      await this.sync();
      this.options.onChange?.({ kind: 'issued', agent, accessKeyId, ...(expiresAt !== undefined && { expiresAt }) });
      return { agent, accessKeyId, secretAccessKey: this.secretFor(accessKeyId), createdAt, ...(expiresAt !== undefined && { expiresAt }) };
    }
    throw new Error('Could not find a free access key id.');
  }

  async revoke(agentOrKeyId: string): Promise<string[]> {
    const revokedAt = new Date().toISOString();
    // A subject shaped like a key id is one: an unknown one revokes nothing, never an agent of that name.
    if (looksLikeAgentKeyId(agentOrKeyId)) {
      const revoked = await this.run(REVOKE_KEY, [agentOrKeyId, revokedAt]);
      await this.sync();
      if (typeof revoked !== 'string') return [];
      const agent = this.byKeyId.get(revoked)?.agent ?? '';
      this.options.onChange?.({ kind: 'revoked', agent, accessKeyId: revoked, revokedAt });
      return [revoked];
    }
    if (!AGENT_NAME_PATTERN.test(agentOrKeyId)) return [];
    const revoked = (await this.run(REVOKE_AGENT, [agentOrKeyId, revokedAt])) as string[];
    await this.sync();
    for (const accessKeyId of revoked) this.options.onChange?.({ kind: 'revoked', agent: agentOrKeyId, accessKeyId, revokedAt });
    this.options.onChange?.({ kind: 'agent_revoked', agent: agentOrKeyId, revokedAt });
    return revoked;
  }

  /**
   * Takes the keys of a data directory's agents.json in (upgrading to Redis, or the chart's
   * registry Secret): a key Redis lacks is added as it is; one it has keeps its state, except
   * that a revocation in the file is applied. Nothing the admin API revoked comes back.
   */
  async importListing(agents: readonly AgentListing[]): Promise<number> {
    let added = 0;
    for (const { agent, revokedAt, keys } of agents) {
      if (revokedAt !== undefined) await this.call(() => this.redis.hsetnx(this.keys.revoked, agent, revokedAt));
      for (const { accessKeyId, createdAt, expiresAt, revokedAt: keyRevokedAt } of keys) {
        const key = { createdAt, ...(expiresAt !== undefined && { expiresAt }), ...(keyRevokedAt !== undefined && { revokedAt: keyRevokedAt }) };
        const stored: StoredKey = { agent, ...key };
        if ((await this.run(ISSUE, [accessKeyId, JSON.stringify(stored)])) !== null) added++;
        else if (key.revokedAt !== undefined) await this.run(REVOKE_KEY, [accessKeyId, key.revokedAt]);
      }
    }
    await this.sync();
    return added;
  }

  async list(): Promise<AgentListing[]> {
    const [keys, revoked, used] = await this.call(async () => {
      const results = await this.redis.multi().hgetall(this.keys.keys).hgetall(this.keys.revoked).hgetall(this.keys.used).exec();
      return (results ?? []).map(([error, value]) => {
        if (error !== null) throw error;
        return value as Record<string, string>;
      });
    });
    const agents = new Map<string, Array<AgentKeyRecord & { lastUsedAt?: string }>>();
    for (const [accessKeyId, json] of Object.entries(keys ?? {})) {
      const { agent, ...rest } = JSON.parse(json) as StoredKey;
      const lastUsedAt = used !== undefined && Object.hasOwn(used, accessKeyId) ? used[accessKeyId] : undefined;
      const list = agents.get(agent) ?? [];
      list.push({ accessKeyId, ...rest, ...(lastUsedAt !== undefined && { lastUsedAt }) });
      agents.set(agent, list);
    }
    for (const agent of Object.keys(revoked ?? {})) if (!agents.has(agent)) agents.set(agent, []);
    return [...agents.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([agent, list]) => {
        const at = revoked !== undefined && Object.hasOwn(revoked, agent) ? revoked[agent] : undefined;
        return { agent, ...(at !== undefined && { revokedAt: at }), keys: list.sort((x, y) => (x.createdAt < y.createdAt ? -1 : x.createdAt > y.createdAt ? 1 : 0)) };
      });
  }

  async close(): Promise<void> {
    clearInterval(this.poll);
    await this.uses.close();
    this.subscriber.disconnect();
    this.redis.disconnect();
  }

  /** One look at Redis at a time; a request for another while one runs makes one more after it. */
  private sync(): Promise<void> {
    if (this.syncing !== undefined) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        try {
          await this.syncOnce();
        } catch {
          // Redis unreachable: keep the snapshot; assertFresh() refuses once it is too old.
        }
      } while (this.syncAgain);
    })().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    const version = await this.redis.get(this.keys.version);
    if (version !== this.version) {
      const results = await this.redis.multi().get(this.keys.version).hgetall(this.keys.keys).hgetall(this.keys.revoked).exec();
      const [v, keys, revoked] = (results ?? []).map(([error, value]) => {
        if (error !== null) throw error;
        return value;
      }) as [string | null, Record<string, string>, Record<string, string>];
      this.apply(keys, revoked);
      this.version = v;
    }
    this.lastSyncOkAt = Date.now();
  }

  private apply(keys: Record<string, string>, revoked: Record<string, string>): void {
    const revokedAgents = new Map(Object.entries(revoked));
    const byKeyId = new Map<string, AgentKeyLookup>();
    for (const [accessKeyId, json] of Object.entries(keys)) {
      const { agent, ...rest } = JSON.parse(json) as StoredKey;
      byKeyId.set(accessKeyId, { agent, key: revokedWithAgent({ accessKeyId, ...rest }, revokedAgents.get(agent)) });
    }
    this.byKeyId = byKeyId;
    this.revokedAgents = revokedAgents;
  }

  private assertFresh(): void {
    const age = Date.now() - this.lastSyncOkAt;
    if (age > (this.options.staleMs ?? REGISTRY_STALE_MS)) {
      throw new CountersignError('AgentRegistryUnavailable', this.lastSyncOkAt === 0 ? 'countersign has not yet read the agent registry from Redis.' : `countersign has not reached the agent registry in Redis for ${Math.round(age / 1000)} s.`);
    }
  }

  private run(script: string, args: string[]): Promise<unknown> {
    const { keys, revoked, version, channel } = this.keys;
    return this.call(() => this.redis.eval(script, 3, keys, revoked, version, channel, ...args));
  }

  /** A Redis command for a change or a listing: unreachable Redis is a clear error, never a guess. */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new CountersignError('AgentRegistryUnavailable', `The agent registry in Redis did not answer: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
