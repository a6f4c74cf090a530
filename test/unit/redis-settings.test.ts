// Redis settings (src/config/redis.ts through loadConfig): one server, Sentinel and Cluster,
// by URL or explicit settings, validated at boot with messages that say what to set.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { hashTagged } from '../../src/config/redis.js';

const redisOf = (env: Record<string, string>) => loadConfig(env).approvals.redis;
const refusal = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('Redis settings', () => {
  it('no Redis: approvals in memory, and Redis-only settings are refused as strays', () => {
    expect(redisOf({})).toBeUndefined();
    expect(refusal({ COUNTERSIGN_REDIS_MIN_REPLICAS: '1' })).toContain('set without a Redis');
  });

  it('one server by URL: the URL as given, trusting the primary alone by default', () => {
    expect(redisOf({ COUNTERSIGN_REDIS_URL: 'rediss://:pw@redis.internal:6380/2' })).toMatchObject({ topology: 'standalone', url: 'rediss://:pw@redis.internal:6380/2', tls: true, prefix: 'countersign:', minReplicas: 0, replicaTimeoutMs: 500 });
    expect(loadConfig({ COUNTERSIGN_REDIS_URL: 'redis://127.0.0.1:6379' }).auditSink).toBe('redis');
  });

  it('Sentinel by URL: several sentinels, the master name, data-node credentials; WAIT for one replica by default', () => {
    expect(redisOf({ COUNTERSIGN_REDIS_URL: 'rediss-sentinel://app:p%40ss@s1:26379,s2:26379,[::1]:26380/mymaster' })).toMatchObject({
      topology: 'sentinel',
      tls: true,
      nodes: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }, { host: '::1', port: 26380 }],
      masterName: 'mymaster',
      username: 'app',
      password: 'p@ss',
      minReplicas: 1,
    });
  });

  it('Sentinel by explicit settings, with Sentinel auth', () => {
    expect(
      redisOf({ COUNTERSIGN_REDIS_SENTINELS: 's1:26379, s2:26379', COUNTERSIGN_REDIS_MASTER_NAME: 'm', COUNTERSIGN_REDIS_PASSWORD: 'data', COUNTERSIGN_REDIS_SENTINEL_PASSWORD: 'sent', COUNTERSIGN_REDIS_TLS: 'true', COUNTERSIGN_REDIS_MIN_REPLICAS: '2', COUNTERSIGN_REDIS_REPLICA_TIMEOUT_MS: '250' }),
    ).toMatchObject({ topology: 'sentinel', masterName: 'm', password: 'data', sentinelPassword: 'sent', tls: true, minReplicas: 2, replicaTimeoutMs: 250 });
    expect(refusal({ COUNTERSIGN_REDIS_SENTINELS: 's1:26379' })).toContain('needs COUNTERSIGN_REDIS_MASTER_NAME');
    expect(refusal({ COUNTERSIGN_REDIS_URL: 'redis-sentinel://s1:26379' })).toContain('ends in /MASTER');
  });

  it('Cluster: the prefix always carries a hash tag, so every script keeps to one slot', () => {
    expect(redisOf({ COUNTERSIGN_REDIS_URL: 'redis-cluster://n1:6379,n2:6379' })).toMatchObject({ topology: 'cluster', prefix: '{countersign}:', minReplicas: 1 });
    expect(redisOf({ COUNTERSIGN_REDIS_CLUSTER_NODES: 'n1:6379', COUNTERSIGN_REDIS_PREFIX: 'team-a:' })?.prefix).toBe('{team-a}:');
    expect(redisOf({ COUNTERSIGN_REDIS_CLUSTER_NODES: 'n1:6379', COUNTERSIGN_REDIS_PREFIX: 'cs:{eu}:' })?.prefix).toBe('cs:{eu}:');
    expect(loadConfig({ COUNTERSIGN_REDIS_CLUSTER_NODES: 'n1:6379' }).approvals.redisPrefix).toBe('{countersign}:');
    // An empty tag ({}) hashes the whole key in Redis: not a tag.
    expect(hashTagged('{}x:')).not.toBe('{}x:');
  });

  it('the registry staleness bound: 30 s by default, a whole number of seconds, and only with Redis', () => {
    expect(redisOf({ COUNTERSIGN_REDIS_URL: 'redis://r:6379' })?.registryMaxStaleSeconds).toBe(30);
    expect(redisOf({ COUNTERSIGN_REDIS_URL: 'redis://r:6379', COUNTERSIGN_REDIS_REGISTRY_MAX_STALE_SECONDS: '300' })?.registryMaxStaleSeconds).toBe(300);
    expect(refusal({ COUNTERSIGN_REDIS_URL: 'redis://r:6379', COUNTERSIGN_REDIS_REGISTRY_MAX_STALE_SECONDS: '0' })).toContain('COUNTERSIGN_REDIS_REGISTRY_MAX_STALE_SECONDS');
    expect(refusal({ COUNTERSIGN_REDIS_REGISTRY_MAX_STALE_SECONDS: '60' })).toContain('COUNTERSIGN_REDIS_REGISTRY_MAX_STALE_SECONDS');
  });

  it('refuses what it cannot use, naming the setting', () => {
    expect(refusal({ COUNTERSIGN_REDIS_URL: 'http://redis:6379' })).toContain('COUNTERSIGN_REDIS_URL must start with redis://');
    expect(refusal({ COUNTERSIGN_REDIS_URL: 'redis://a:1', COUNTERSIGN_REDIS_SENTINELS: 's:1' })).toContain('set one of them');
    expect(refusal({ COUNTERSIGN_REDIS_CLUSTER_NODES: 'n1' })).toContain('"n1" is not HOST:PORT');
    expect(refusal({ COUNTERSIGN_REDIS_URL: 'redis://a:1', COUNTERSIGN_REDIS_TLS: 'true' })).toContain('say rediss://');
    expect(refusal({ COUNTERSIGN_REDIS_URL: 'redis://a:1', COUNTERSIGN_REDIS_MIN_REPLICAS: '-1' })).toContain('COUNTERSIGN_REDIS_MIN_REPLICAS="-1"');
    expect(refusal({ COUNTERSIGN_REDIS_URL: 'redis://a:1', COUNTERSIGN_REDIS_MASTER_NAME: 'm' })).toContain('Sentinel only');
    expect(refusal({ COUNTERSIGN_REDIS_URL: 'redis-cluster://n1:6379/0' })).toContain('has no path');
  });

  it('never puts a password in a message', () => {
    expect(refusal({ COUNTERSIGN_REDIS_URL: 'redis-sentinel://:hunter2@s1/m' })).not.toContain('hunter2');
  });
});
