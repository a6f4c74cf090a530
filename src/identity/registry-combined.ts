import type { FileAgentRegistry } from './registry-file.js';
import type { RedisAgentRegistry } from './registry-redis.js';
import type { AgentKeyLookup, AgentListing, AgentRegistry, IssuedAgentKey, IssueOptions } from './registry-types.js';

/** How often the data directory's agents.json is looked at for keys to take into Redis. */
const IMPORT_CHECK_MS = 1_000;

/**
 * The registry with Redis configured: Redis, shared by every replica, is where the admin API
 * issues and revokes. The data directory's agents.json keeps working next to it, as it did
 * before Redis held the registry: what the CLI writes there (or the kubelet, from the chart's
 * Secret) is found at once by a replica sharing the directory, and taken into Redis (so every
 * other replica and `agents list` have it) within IMPORT_CHECK_MS. A revocation on either side
 * wins: a key revoked in Redis stays revoked whatever the file says, and one revoked in the
 * file is refused at once.
 */
export class RedisWithDataDirRegistry implements AgentRegistry {
  private readonly timer: NodeJS.Timeout;
  private importing: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisAgentRegistry,
    private readonly file: FileAgentRegistry,
  ) {
    // Looking up any id makes the file registry re-read agents.json if it changed (its onChange then imports).
    this.timer = setInterval(() => this.file.lookup(''), IMPORT_CHECK_MS);
    this.timer.unref();
  }

  /** Takes agents.json into Redis: keys Redis lacks, and revocations (admin API revocations are never undone). */
  importNow(): Promise<void> {
    // One import at a time, and at most one waiting behind it (it reads the file when it starts).
    if (this.queued !== undefined) return this.queued;
    const queued = this.importing.then(async () => {
      this.queued = undefined;
      try {
        await this.redis.importListing(this.file.list());
      } catch {
        // Redis unreachable: the next change or the next call tries again; lookups still see the file.
      }
    });
    this.queued = queued;
    this.importing = queued;
    return queued;
  }

  lookup(accessKeyId: string): AgentKeyLookup | undefined {
    const shared = this.redis.lookup(accessKeyId);
    const local = this.file.lookup(accessKeyId);
    if (shared === undefined) {
      if (local !== undefined) void this.importNow();
      return local;
    }
    if (local?.key.revokedAt !== undefined && shared.key.revokedAt === undefined) return { agent: shared.agent, key: { ...shared.key, revokedAt: local.key.revokedAt } };
    return shared;
  }

  secretFor(accessKeyId: string): string {
    return this.redis.secretFor(accessKeyId);
  }

  /** The later revocation of the two: it voids more. */
  revokedAt(agent: string): string | undefined {
    const shared = this.redis.revokedAt(agent);
    const local = this.file.revokedAt(agent);
    if (shared === undefined) return local;
    if (local === undefined) return shared;
    return local > shared ? local : shared;
  }

  recordUse(accessKeyId: string, at?: number): void {
    this.redis.recordUse(accessKeyId, at);
  }

  issue(agent: string, options?: IssueOptions): Promise<IssuedAgentKey> {
    return this.redis.issue(agent, options);
  }

  async revoke(agentOrKeyId: string): Promise<string[]> {
    await this.importNow(); // a key only agents.json has yet is revoked in Redis too
    return this.redis.revoke(agentOrKeyId);
  }

  async list(): Promise<AgentListing[]> {
    await this.importNow();
    return this.redis.list();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.importing;
    await Promise.all([this.redis.close(), this.file.close()]);
  }
}
