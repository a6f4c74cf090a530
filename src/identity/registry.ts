import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_NAME_PATTERN, deriveAgentSecret, newAccessKeyId } from './agent-keys.js';

/** One agent key as stored: no secret, only the id and its lifecycle. */
export interface AgentKeyRecord {
  readonly accessKeyId: string;
  readonly createdAt: string;
  readonly revokedAt?: string;
}

interface RegistryFile {
  readonly version: 1;
  readonly agents: Record<string, { keys: AgentKeyRecord[] }>;
}

export interface AgentKeyLookup {
  readonly agent: string;
  readonly key: AgentKeyRecord;
}

export type KeyChange =
  | { readonly kind: 'issued'; readonly agent: string; readonly accessKeyId: string }
  | { readonly kind: 'revoked'; readonly agent: string; readonly accessKeyId: string; readonly revokedAt: string };

export interface IssuedAgentKey {
  readonly agent: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

const REGISTRY_FILE = 'agents.json';
const SERVER_KEY_FILE = 'server.key';
/** How often a running proxy looks for keys issued or revoked by the CLI. */
const RELOAD_CHECK_MS = 250;

/** Creates the data directory with owner-only access. */
export function ensureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
}

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
 * The agent registry in `DATA_DIR/agents.json`. The CLI writes it (atomically, by rename); a
 * running proxy notices changes within RELOAD_CHECK_MS, so a revoked key stops working
 * without a restart.
 */
export class AgentRegistry {
  private readonly path: string;
  private state: RegistryFile = { version: 1, agents: {} };
  private byKeyId = new Map<string, AgentKeyLookup>();
  /** mtime and inode of the file last read: every write is a rename, so a new inode means a new file even within one mtime tick. */
  private loadedVersion = '';
  /** Derived secrets by key id: one HMAC per key, not per request. */
  private readonly secrets = new Map<string, string>();
  private watching = false;
  private checkedAt = 0;

  constructor(
    private readonly dataDir: string,
    private readonly serverKey: Buffer,
    /** Told of keys issued or revoked since the last look (for the audit log). */
    private readonly onChange: (change: KeyChange) => void = () => undefined,
  ) {
    this.path = join(dataDir, REGISTRY_FILE);
    this.reload();
    this.watching = true;
  }

  lookup(accessKeyId: string): AgentKeyLookup | undefined {
    const now = Date.now();
    if (now - this.checkedAt >= RELOAD_CHECK_MS) {
      this.checkedAt = now;
      this.reloadIfChanged();
    }
    return this.byKeyId.get(accessKeyId);
  }

  secretFor(accessKeyId: string): string {
    let secret = this.secrets.get(accessKeyId);
    if (secret === undefined) {
      secret = deriveAgentSecret(this.serverKey, accessKeyId);
      if (this.secrets.size >= 10_000) this.secrets.clear();
      this.secrets.set(accessKeyId, secret);
    }
    return secret;
  }

  issue(agent: string): IssuedAgentKey {
    if (!AGENT_NAME_PATTERN.test(agent)) {
      throw new Error(`Agent name "${agent}" is not valid: use 1-48 letters, digits, ".", "_" or "-", starting with a letter or digit.`);
    }
    this.reload();
    const accessKeyId = newAccessKeyId();
    const entry = this.state.agents[agent] ?? { keys: [] };
    entry.keys.push({ accessKeyId, createdAt: new Date().toISOString() });
    this.write({ ...this.state, agents: { ...this.state.agents, [agent]: entry } });
    return { agent, accessKeyId, secretAccessKey: this.secretFor(accessKeyId) };
  }

  /** Revokes one key (by id) or every key of an agent (by name); returns the revoked ids. */
  revoke(agentOrKeyId: string): string[] {
    this.reload();
    const revokedAt = new Date().toISOString();
    const revoked: string[] = [];
    const agents: RegistryFile['agents'] = {};
    for (const [agent, { keys }] of Object.entries(this.state.agents)) {
      agents[agent] = {
        keys: keys.map((key) => {
          const hit = key.revokedAt === undefined && (agent === agentOrKeyId || key.accessKeyId === agentOrKeyId);
          if (!hit) return key;
          revoked.push(key.accessKeyId);
          return { ...key, revokedAt };
        }),
      };
    }
    if (revoked.length > 0) this.write({ version: 1, agents });
    return revoked;
  }

  list(): ReadonlyArray<{ agent: string; keys: readonly AgentKeyRecord[] }> {
    this.reload();
    return Object.entries(this.state.agents).map(([agent, { keys }]) => ({ agent, keys }));
  }

  private reloadIfChanged(): void {
    if (versionOf(this.path) !== this.loadedVersion) this.reload();
  }

  private reload(): void {
    if (!existsSync(this.path)) {
      this.apply({ version: 1, agents: {} }, '');
      return;
    }
    const version = versionOf(this.path);
    const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as RegistryFile;
    if (parsed.version !== 1 || typeof parsed.agents !== 'object') {
      throw new Error(`${this.path} is not a countersign agent registry (version 1).`);
    }
    this.apply(parsed, version);
  }

  private apply(state: RegistryFile, version: string): void {
    const byKeyId = new Map<string, AgentKeyLookup>();
    for (const [agent, { keys }] of Object.entries(state.agents)) {
      for (const key of keys) {
        byKeyId.set(key.accessKeyId, { agent, key });
        const before = this.byKeyId.get(key.accessKeyId);
        if (!this.watching) continue;
        if (before === undefined) this.onChange({ kind: 'issued', agent, accessKeyId: key.accessKeyId });
        if (key.revokedAt !== undefined && before?.key.revokedAt === undefined) this.onChange({ kind: 'revoked', agent, accessKeyId: key.accessKeyId, revokedAt: key.revokedAt });
      }
    }
    this.state = state;
    this.byKeyId = byKeyId;
    this.loadedVersion = version;
  }

  private write(state: RegistryFile): void {
    ensureDataDir(this.dataDir);
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.path);
    this.apply(state, versionOf(this.path));
  }
}

function versionOf(path: string): string {
  try {
    const stat = statSync(path);
    return `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
  } catch {
    return '';
  }
}
