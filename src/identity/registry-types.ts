/**
 * The agent registry's definitions: what is stored per agent key and per agent, and the one
 * interface both registries (the data directory's file, Redis shared by replicas) implement.
 * Plain data; the implementations live in registry-file.ts and registry-redis.ts, and
 * registry-combined.ts keeps the data directory's file working next to Redis.
 */

/** One agent key as stored: no secret, only the id and its lifecycle (ISO times). */
export interface AgentKeyRecord {
  readonly accessKeyId: string;
  readonly createdAt: string;
  /** Absent: the key never expires (issued with `--ttl never`, or before keys had an expiry). */
  readonly expiresAt?: string;
  readonly revokedAt?: string;
}

export interface AgentKeyLookup {
  readonly agent: string;
  readonly key: AgentKeyRecord;
}

/** One agent in a listing: its keys, when each was last used, and when the agent itself was revoked. */
export interface AgentListing {
  readonly agent: string;
  /** The agent was revoked: every credential issued to it up to this time is refused. */
  readonly revokedAt?: string;
  readonly keys: ReadonlyArray<AgentKeyRecord & { readonly lastUsedAt?: string }>;
}

export type KeyChange =
  | { readonly kind: 'issued'; readonly agent: string; readonly accessKeyId: string; readonly expiresAt?: string }
  | { readonly kind: 'revoked'; readonly agent: string; readonly accessKeyId: string; readonly revokedAt: string }
  | { readonly kind: 'agent_revoked'; readonly agent: string; readonly revokedAt: string };

export interface IssuedAgentKey {
  readonly agent: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly createdAt: string;
  readonly expiresAt?: string;
}

export interface IssueOptions {
  /** Lifetime in milliseconds; absent: the key never expires. */
  readonly ttlMs?: number;
}

export type Awaitable<T> = T | Promise<T>;

/**
 * The registry as the request path and the admin API see it. Lookups are synchronous, from a
 * snapshot kept current (the file is re-read when it changes; Redis pushes changes and is
 * polled), so identifying an agent never waits on I/O. Changes may be asynchronous.
 */
export interface AgentRegistry {
  lookup(accessKeyId: string): AgentKeyLookup | undefined;
  /** The agent's secret for a key id, derived from the server key (cached). */
  secretFor(accessKeyId: string): string;
  /**
   * When the agent was revoked, if it was: every credential issued to it at or before this
   * time (static keys, and short-lived session credentials by their issued-at) is void.
   */
  revokedAt(agent: string): string | undefined;
  /** Notes a verified use of a key; written at most once a minute per key, never on the request's path. */
  recordUse(accessKeyId: string, at?: number): void;
  issue(agent: string, options?: IssueOptions): Awaitable<IssuedAgentKey>;
  /**
   * Revokes one key (by access key id), or an agent (by name): every key it has, and every
   * credential issued to it so far. Returns the key ids revoked now.
   */
  revoke(agentOrKeyId: string): Awaitable<string[]>;
  list(): Awaitable<readonly AgentListing[]>;
  /** Stops timers and connections, writing the last uses still pending. */
  close(): Awaitable<void>;
}
