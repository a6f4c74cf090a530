import type { RedisSettings } from '../config/redis.js';
import { RedisWithDataDirRegistry } from './registry-combined.js';
import { FileAgentRegistry } from './registry-file.js';
import { RedisAgentRegistry } from './registry-redis.js';
import type { AgentRegistry, KeyChange } from './registry-types.js';

export interface RegistrySetup {
  readonly registry: AgentRegistry;
  /** In Redis, shared by every replica (else the data directory's file). */
  readonly shared: boolean;
  /** Resolves once the registry has been read (Redis: the first sync, or its connect timeout). */
  ready(): Promise<void>;
  /** Redis: resolves when it answers. */
  readonly ping?: () => Promise<void>;
}

export interface RegistryOptions {
  readonly dataDir: string;
  readonly serverKey: Buffer;
  /** With Redis configured the registry lives there, under the prefix, shared by every replica. */
  readonly redis?: { readonly settings: RedisSettings; readonly prefix: string };
  readonly onChange: (change: KeyChange) => void;
}

/** The agent registry the configuration asks for: Redis when configured, else `DATA_DIR/agents.json`. */
export function openAgentRegistry(options: RegistryOptions): RegistrySetup {
  if (options.redis === undefined) {
    const registry = new FileAgentRegistry(options.dataDir, options.serverKey, options.onChange);
    return { registry, shared: false, ready: () => Promise.resolve() };
  }
  // agents.json in the data directory keeps working next to Redis (the CLI without --server, the chart's Secret); its changes are audited as before.
  const link: { combined?: RedisWithDataDirRegistry } = {};
  const file = new FileAgentRegistry(options.dataDir, options.serverKey, (change) => {
    options.onChange(change);
    void link.combined?.importNow();
  });
  const redis = new RedisAgentRegistry(options.serverKey, { redis: options.redis.settings, prefix: options.redis.prefix, onChange: options.onChange, ...(options.redis.settings.registryMaxStaleSeconds !== undefined && { staleMs: options.redis.settings.registryMaxStaleSeconds * 1000 }) });
  const combined = new RedisWithDataDirRegistry(redis, file);
  link.combined = combined;
  const ready = async () => {
    await redis.ready();
    await combined.importNow();
  };
  return { registry: combined, shared: true, ready, ping: () => redis.ping() };
}

/** The audit record of a registry change. */
export function keyChangeEvent(change: KeyChange) {
  switch (change.kind) {
    case 'issued':
      return { event: 'agent.key_issued' as const, agent: change.agent, accessKeyId: change.accessKeyId, ...(change.expiresAt !== undefined && { expiresAt: change.expiresAt }) };
    case 'revoked':
      return { event: 'agent.key_revoked' as const, agent: change.agent, accessKeyId: change.accessKeyId, revokedAt: change.revokedAt };
    case 'agent_revoked':
      return { event: 'agent.revoked' as const, agent: change.agent, revokedAt: change.revokedAt };
  }
}
