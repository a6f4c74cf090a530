import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDataDir, FileAgentRegistry } from './registry-file.js';
import type { AgentRegistry as AgentRegistryInterface } from './registry-types.js';

export type { AgentKeyLookup, AgentKeyRecord, AgentListing, IssuedAgentKey, IssueOptions, KeyChange } from './registry-types.js';
export { ensureDataDir, FileAgentRegistry } from './registry-file.js';

const SERVER_KEY_FILE = 'server.key';

/** The key agent secrets are derived from: 32 random bytes, created once, mode 0600. */
export function loadOrCreateServerKey(dataDir: string): Buffer {
  const path = join(dataDir, SERVER_KEY_FILE);
  if (!existsSync(path)) {
    ensureDataDir(dataDir);
    writeFileSync(path, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  if (key.length !== 32) throw new Error(`${path} must hold 64 hex digits; restore it, or delete it to invalidate every agent key.`);
  return key;
}

/**
 * `AgentRegistry` is both the interface every registry implements (as a type: what the request
 * path and the admin API take) and, as a value, the data directory's file registry, so
 * `new AgentRegistry(dataDir, serverKey)` keeps working for the CLI and the demo.
 */
export type AgentRegistry = AgentRegistryInterface;
export const AgentRegistry = FileAgentRegistry;
