/**
 * Redis settings: one standalone server, a Sentinel-managed primary, or a Redis Cluster, read
 * from the environment and validated at boot (definitions only; src/redis/ connects).
 */

export type RedisTopology = 'standalone' | 'sentinel' | 'cluster';

export interface RedisAddress {
  readonly host: string;
  readonly port: number;
}

export interface RedisSettings {
  readonly topology: RedisTopology;
  /** Standalone: the URL as given (redis:// or rediss://, with any user, password and db in it). */
  readonly url?: string;
  /** Sentinel: the sentinels; Cluster: the seed nodes. */
  readonly nodes: readonly RedisAddress[];
  /** Sentinel: the monitored primary's name. */
  readonly masterName?: string;
  readonly username?: string;
  readonly password?: string;
  readonly sentinelUsername?: string;
  readonly sentinelPassword?: string;
  /** TLS to the data nodes (and to the sentinels). */
  readonly tls: boolean;
  /**
   * Key prefix. For a Cluster it always carries a hash tag, so every script's keys hash to one
   * slot by construction (a prefix without one is wrapped: `countersign:` becomes `{countersign}:`).
   */
  readonly prefix: string;
  /**
   * Replicas that must hold a consume, a decision and an audit append (Redis WAIT) before
   * countersign acts on it; 0 trusts the primary alone.
   */
  readonly minReplicas: number;
  /** How long WAIT may take before the operation fails closed. */
  readonly replicaTimeoutMs: number;
  /**
   * How long a replica keeps identifying agents from its last read of the agent registry while
   * Redis does not answer; after that it refuses them, as it could be missing a revocation.
   */
  readonly registryMaxStaleSeconds?: number;
}

export class RedisSettingsError extends Error {
  override readonly name = 'ConfigError';
}

/** The Redis settings, documented (merged into config.ts SETTINGS). */
export const REDIS_SETTINGS = {
  COUNTERSIGN_REDIS_URL:
    'Redis for approvals shared by replicas: redis:// or rediss:// (one server), redis-sentinel://[user:password@]HOST:PORT,.../MASTER, redis-cluster://[user:password@]HOST:PORT,... (rediss-sentinel://, rediss-cluster:// for TLS); unset: in memory',
  COUNTERSIGN_REDIS_PREFIX: 'key prefix in Redis (default countersign:; {countersign}: on a Cluster, always with a hash tag there)',
  COUNTERSIGN_REDIS_SENTINELS: 'instead of a URL: the Sentinels, HOST:PORT comma-separated (with COUNTERSIGN_REDIS_MASTER_NAME)',
  COUNTERSIGN_REDIS_MASTER_NAME: 'the primary the Sentinels monitor (sentinel monitor NAME ...)',
  COUNTERSIGN_REDIS_CLUSTER_NODES: 'instead of a URL: Redis Cluster seed nodes, HOST:PORT comma-separated',
  COUNTERSIGN_REDIS_USERNAME: 'ACL user for the Redis data nodes (with SENTINELS or CLUSTER_NODES, or to override the URL)',
  COUNTERSIGN_REDIS_PASSWORD: 'password for the Redis data nodes (a secret: never logged)',
  COUNTERSIGN_REDIS_SENTINEL_USERNAME: 'ACL user for the Sentinels, when they require one',
  COUNTERSIGN_REDIS_SENTINEL_PASSWORD: 'password for the Sentinels (a secret), when they require one',
  COUNTERSIGN_REDIS_TLS: 'true: TLS to the data nodes and Sentinels given by SENTINELS or CLUSTER_NODES (default false; URLs say rediss)',
  COUNTERSIGN_REDIS_MIN_REPLICAS: 'replicas that must acknowledge a consume, a decision and an audit append (WAIT) before countersign acts (default 0 for one server, 1 for Sentinel and Cluster)',
  COUNTERSIGN_REDIS_REPLICA_TIMEOUT_MS: 'how long that acknowledgement may take before the operation fails closed (default 500)',
  COUNTERSIGN_REDIS_REGISTRY_MAX_STALE_SECONDS: 'while Redis does not answer, agents are identified from the last read of the agent registry for this long, then refused as a revocation could be missed (default 30)',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

function fail(message: string): never {
  throw new RedisSettingsError(message);
}

export function parseAddresses(name: string, value: string): RedisAddress[] {
  const addresses = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const match = /^(?<host>\[[0-9a-fA-F:]+\]|[^:,/\s]+):(?<port>\d{1,5})$/.exec(entry);
      const port = Number(match?.groups?.port);
      if (!match?.groups?.host || !Number.isInteger(port) || port === 0 || port > 65535) fail(`${name}: "${entry}" is not HOST:PORT, for example redis-1.internal:26379.`);
      return { host: match.groups.host.replace(/^\[|\]$/g, ''), port };
    });
  if (addresses.length === 0) fail(`${name}: expected at least one HOST:PORT.`);
  return addresses;
}

interface ParsedUrl {
  readonly topology: RedisTopology;
  readonly tls: boolean;
  readonly nodes: RedisAddress[];
  readonly masterName?: string;
  readonly username?: string;
  readonly password?: string;
}

/** `redis[s]-sentinel://` and `redis[s]-cluster://` name several hosts, which WHATWG URLs cannot hold. */
function parseMultiHostUrl(url: string): ParsedUrl {
  const match = /^(?<scheme>rediss?)-(?<kind>sentinel|cluster):\/\/(?:(?<user>[^:@/]*)(?::(?<pass>[^@/]*))?@)?(?<hosts>[^/?#@]+)(?:\/(?<path>[^?#]*))?$/.exec(url);
  const groups = match?.groups;
  if (groups === undefined) fail('COUNTERSIGN_REDIS_URL: expected redis-sentinel://[user:password@]HOST:PORT,.../MASTER or redis-cluster://[user:password@]HOST:PORT,...');
  const topology = groups.kind as 'sentinel' | 'cluster';
  const decode = (text: string | undefined) => {
    if (text === undefined || text === '') return undefined;
    try {
      return decodeURIComponent(text);
    } catch {
      return fail('COUNTERSIGN_REDIS_URL: the user or password is not URL-encoded correctly.');
    }
  };
  const masterName = decode(groups.path?.replace(/\/$/, ''));
  if (topology === 'sentinel' && masterName === undefined) fail('COUNTERSIGN_REDIS_URL: a redis-sentinel:// URL ends in /MASTER, the name the Sentinels monitor.');
  if (topology === 'cluster' && masterName !== undefined) fail('COUNTERSIGN_REDIS_URL: a redis-cluster:// URL has no path (a Cluster has one database).');
  const username = decode(groups.user);
  const password = decode(groups.pass);
  return {
    topology,
    tls: groups.scheme === 'rediss',
    nodes: parseAddresses('COUNTERSIGN_REDIS_URL', groups.hosts ?? ''),
    ...(masterName !== undefined && { masterName }),
    ...(username !== undefined && { username }),
    ...(password !== undefined && { password }),
  };
}

function wholeNumber(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`${name}="${value}": expected a whole number of at least ${min}.`);
  return n;
}

function flag(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return fail(`${name}="${value}": expected true or false.`);
}

/** A Cluster prefix without a hash tag gets one around it, so one script's keys share a slot. */
export function hashTagged(prefix: string): string {
  // Redis hashes what lies between the first '{' and the first '}' after it, when not empty.
  const open = prefix.indexOf('{');
  const close = open === -1 ? -1 : prefix.indexOf('}', open + 1);
  if (close > open + 1) return prefix;
  const name = prefix.replace(/:$/, '') || 'countersign';
  return `{${name}}:`;
}

function topologyOf(env: Env): ParsedUrl | { topology: 'standalone'; url: string } | undefined {
  const url = env.COUNTERSIGN_REDIS_URL === '' ? undefined : env.COUNTERSIGN_REDIS_URL;
  const sentinels = env.COUNTERSIGN_REDIS_SENTINELS || undefined;
  const clusterNodes = env.COUNTERSIGN_REDIS_CLUSTER_NODES || undefined;
  const given = [url && 'COUNTERSIGN_REDIS_URL', sentinels && 'COUNTERSIGN_REDIS_SENTINELS', clusterNodes && 'COUNTERSIGN_REDIS_CLUSTER_NODES'].filter(Boolean);
  if (given.length > 1) fail(`${given.join(' and ')} each name a Redis; set one of them.`);
  const tls = flag('COUNTERSIGN_REDIS_TLS', env.COUNTERSIGN_REDIS_TLS);
  if (url !== undefined) {
    if (tls !== undefined) fail('COUNTERSIGN_REDIS_TLS goes with SENTINELS or CLUSTER_NODES; in a URL, say rediss:// (or rediss-sentinel://, rediss-cluster://).');
    if (/^rediss?:\/\//.test(url)) {
      try {
        new URL(url);
      } catch {
        fail('COUNTERSIGN_REDIS_URL is not a valid URL.');
      }
      return { topology: 'standalone', url };
    }
    if (/^rediss?-(sentinel|cluster):\/\//.test(url)) return parseMultiHostUrl(url);
    fail('COUNTERSIGN_REDIS_URL must start with redis:// or rediss:// (TLS), or redis-sentinel://, rediss-sentinel://, redis-cluster://, rediss-cluster://.');
  }
  if (sentinels !== undefined) {
    const masterName = env.COUNTERSIGN_REDIS_MASTER_NAME || fail('COUNTERSIGN_REDIS_SENTINELS needs COUNTERSIGN_REDIS_MASTER_NAME, the name the Sentinels monitor.');
    return { topology: 'sentinel', tls: tls ?? false, nodes: parseAddresses('COUNTERSIGN_REDIS_SENTINELS', sentinels), masterName };
  }
  if (clusterNodes !== undefined) return { topology: 'cluster', tls: tls ?? false, nodes: parseAddresses('COUNTERSIGN_REDIS_CLUSTER_NODES', clusterNodes) };
  if (tls !== undefined) fail('COUNTERSIGN_REDIS_TLS needs COUNTERSIGN_REDIS_SENTINELS or COUNTERSIGN_REDIS_CLUSTER_NODES.');
  return undefined;
}

/** The Redis settings from the environment, or undefined when no Redis is configured (approvals in memory). */
export function parseRedisSettings(env: Env): RedisSettings | undefined {
  const found = topologyOf(env);
  const dependent = ['COUNTERSIGN_REDIS_USERNAME', 'COUNTERSIGN_REDIS_PASSWORD', 'COUNTERSIGN_REDIS_SENTINEL_USERNAME', 'COUNTERSIGN_REDIS_SENTINEL_PASSWORD', 'COUNTERSIGN_REDIS_MIN_REPLICAS', 'COUNTERSIGN_REDIS_REPLICA_TIMEOUT_MS', 'COUNTERSIGN_REDIS_REGISTRY_MAX_STALE_SECONDS'];
  if (found === undefined) {
    const stray = [...dependent, 'COUNTERSIGN_REDIS_MASTER_NAME'].filter((name) => env[name] !== undefined && env[name] !== '');
    if (stray.length > 0) fail(`${stray.join(', ')} set without a Redis: set COUNTERSIGN_REDIS_URL, COUNTERSIGN_REDIS_SENTINELS or COUNTERSIGN_REDIS_CLUSTER_NODES.`);
    return undefined;
  }
  if (found.topology !== 'sentinel' && (env.COUNTERSIGN_REDIS_MASTER_NAME || env.COUNTERSIGN_REDIS_SENTINEL_USERNAME || env.COUNTERSIGN_REDIS_SENTINEL_PASSWORD)) {
    fail('COUNTERSIGN_REDIS_MASTER_NAME and the SENTINEL_ credentials apply to Sentinel only.');
  }
  const prefix = env.COUNTERSIGN_REDIS_PREFIX ?? 'countersign:';
  const base = 'url' in found ? { nodes: [], url: found.url, tls: found.url.startsWith('rediss:') } : found;
  const pick = (name: string, key: string, fallback?: string) => {
    const value = env[name] === undefined || env[name] === '' ? fallback : env[name];
    return value === undefined ? {} : { [key]: value };
  };
  return Object.freeze({
    ...base,
    topology: found.topology,
    prefix: found.topology === 'cluster' ? hashTagged(prefix) : prefix,
    minReplicas: wholeNumber('COUNTERSIGN_REDIS_MIN_REPLICAS', env.COUNTERSIGN_REDIS_MIN_REPLICAS, found.topology === 'standalone' ? 0 : 1, 0),
    replicaTimeoutMs: wholeNumber('COUNTERSIGN_REDIS_REPLICA_TIMEOUT_MS', env.COUNTERSIGN_REDIS_REPLICA_TIMEOUT_MS, 500, 1),
    registryMaxStaleSeconds: wholeNumber('COUNTERSIGN_REDIS_REGISTRY_MAX_STALE_SECONDS', env.COUNTERSIGN_REDIS_REGISTRY_MAX_STALE_SECONDS, 30, 1),
    ...pick('COUNTERSIGN_REDIS_USERNAME', 'username', 'username' in found ? found.username : undefined),
    ...pick('COUNTERSIGN_REDIS_PASSWORD', 'password', 'password' in found ? found.password : undefined),
    ...pick('COUNTERSIGN_REDIS_SENTINEL_USERNAME', 'sentinelUsername'),
    ...pick('COUNTERSIGN_REDIS_SENTINEL_PASSWORD', 'sentinelPassword'),
  });
}
