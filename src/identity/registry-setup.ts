import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisSettings } from '../config/redis.js';
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
  const registry = new RedisAgentRegistry(options.serverKey, { redis: options.redis.settings, prefix: options.redis.prefix, onChange: options.onChange });
  const ready = async () => {
    await registry.ready();
    // Keys issued into the data directory before Redis held the registry keep working.
    if (existsSync(join(options.dataDir, 'agents.json'))) await registry.importListing(new FileAgentRegistry(options.dataDir, options.serverKey).list()).catch(() => 0);
  };
  return { registry, shared: true, ready, ping: () => registry.ping() };
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
