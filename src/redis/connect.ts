import { Cluster, Redis } from 'ioredis';
import type { RedisSettings } from '../config/redis.js';

/** A connection to the configured Redis, whatever its topology: the same commands either way. */
export type RedisClient = Redis | Cluster;

export interface ConnectOptions {
  /**
   * Queue commands while disconnected (subscriptions, audit appends that wait for Redis) or
   * fail them at once (the approval store: approve rules fail closed instead of hanging).
   */
  readonly offlineQueue: boolean;
}

export const CONNECT_TIMEOUT_MS = 2_000;
const retry = (attempt: number) => Math.min(attempt * 200, 2_000);

/**
 * After a failover the old primary may come back as a replica while a connection still points
 * at it: a write there fails READONLY. Reconnect (Sentinel then names the new primary) and send
 * the command again: it never ran, so nothing is applied twice.
 */
function reconnectOnReadOnly(error: Error): 2 | false {
  return error.message.startsWith('READONLY') ? 2 : false;
}

/**
 * The one place a Redis connection is made, for the approval store, the decision channel and
 * the Redis audit sink alike. Standalone: the URL as given. Sentinel: ioredis asks the
 * Sentinels for the primary on every (re)connection. Cluster: ioredis's
 * Cluster client follows MOVED and ASK redirections and refreshes its slot map.
 */
export function connectRedis(settings: RedisSettings, options: ConnectOptions): RedisClient {
  const common = {
    enableOfflineQueue: options.offlineQueue,
    maxRetriesPerRequest: 1,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: retry,
    reconnectOnError: reconnectOnReadOnly,
  };
  const auth = { ...(settings.username !== undefined && { username: settings.username }), ...(settings.password !== undefined && { password: settings.password }) };
  const client = ((): RedisClient => {
    switch (settings.topology) {
      case 'standalone':
        return new Redis(settings.url ?? 'redis://127.0.0.1:6379', { ...common, ...auth });
      case 'sentinel':
        return new Redis({
          ...common,
          ...auth,
          sentinels: settings.nodes.map((n) => ({ host: n.host, port: n.port })),
          name: settings.masterName ?? 'mymaster',
          ...(settings.sentinelUsername !== undefined && { sentinelUsername: settings.sentinelUsername }),
          ...(settings.sentinelPassword !== undefined && { sentinelPassword: settings.sentinelPassword }),
          sentinelRetryStrategy: retry,
          // No failoverDetector: its +switch-master disconnect, arriving while the client is
          // already reconnecting after the primary died, ends the client for good ("Connection
          // is closed", ioredis 6). A dead primary drops the connection and a demoted one answers
          // READONLY; either way the client asks the Sentinels again.
          ...(settings.tls && { tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} }),
        });
      case 'cluster':
        return new Cluster(
          settings.nodes.map((n) => ({ host: n.host, port: n.port })),
          {
            enableOfflineQueue: options.offlineQueue,
            clusterRetryStrategy: retry,
            retryDelayOnFailover: 200,
            retryDelayOnClusterDown: 200,
            // ElastiCache and MemoryDB answer CLUSTER SLOTS with names their TLS certificates
            // carry; resolving them to addresses first would fail the certificate check.
            ...(settings.tls && { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) }),
            redisOptions: { ...common, ...auth, ...(settings.tls && { tls: {} }) },
          },
        );
    }
  })();
  // Connection errors surface as refused commands; keep them from becoming unhandled events.
  client.on('error', () => undefined);
  return client;
}

/** Waits for the first connection (bounded), but not for a reconnection: while Redis is down, calls fail at once. */
export async function firstConnection(client: RedisClient): Promise<void> {
  const status = client.status;
  if (status === 'ready' || !['wait', 'connecting', 'connect'].includes(status)) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CONNECT_TIMEOUT_MS);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Settings for one server by URL, trusting the primary alone (tests, and callers that only have a URL). */
export function standaloneSettings(url: string, prefix: string): RedisSettings {
  return { topology: 'standalone', url, nodes: [], tls: url.startsWith('rediss:'), prefix, minReplicas: 0, replicaTimeoutMs: 500 };
}
