import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_NAME_PATTERN, AgentSecretCache, looksLikeAgentKeyId, newAccessKeyId } from './agent-keys.js';
import { LastUseRecorder } from './registry-last-use.js';
import type { AgentKeyLookup, AgentKeyRecord, AgentListing, AgentRegistry, IssuedAgentKey, IssueOptions, KeyChange } from './registry-types.js';

interface AgentEntry {
  keys: AgentKeyRecord[];
  /** The agent itself was revoked (every credential issued up to then is void). */
  revokedAt?: string;
}

interface RegistryFile {
  readonly version: 1;
  readonly agents: Record<string, AgentEntry>;
}

const REGISTRY_FILE = 'agents.json';
/**
 * Last uses live apart from agents.json: the proxy writes them, the CLI writes agents.json, and
 * neither may overwrite the other's change (a proxy rewriting agents.json could undo a revocation).
 */
const LAST_USE_FILE = 'agents-last-use.json';
/** How often a running proxy looks for keys issued or revoked by the CLI. */
const RELOAD_CHECK_MS = 250;

/** Creates the data directory with owner-only access. */
export function ensureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
}

export function validAgentName(agent: string): void {
  if (!AGENT_NAME_PATTERN.test(agent)) {
    throw new RangeError(`Agent name "${agent}" is not valid: use 1-48 letters, digits, ".", "_" or "-", starting with a letter or digit.`);
  }
}

/**
 * The agent registry in `DATA_DIR/agents.json`. The CLI writes it (atomically, by rename); a
 * running proxy notices changes within RELOAD_CHECK_MS, so a revoked key stops working
 * without a restart. Replicas share it only by sharing the directory (or a mounted Secret);
 * with Redis configured, registry-redis.ts is the registry instead.
 */
export class FileAgentRegistry implements AgentRegistry {
  private readonly path: string;
  private state: RegistryFile = { version: 1, agents: {} };
  private byKeyId = new Map<string, AgentKeyLookup>();
  /** mtime and inode of the file last read: every write is a rename, so a new inode means a new file even within one mtime tick. */
  private loadedVersion = '';
  private readonly secrets: AgentSecretCache;
  private watching = false;
  private checkedAt = 0;
  private uses: LastUseRecorder | undefined;

  constructor(
    private readonly dataDir: string,
    serverKey: Buffer,
    /** Told of keys issued or revoked since the last look (for the audit log). */
    private readonly onChange: (change: KeyChange) => void = () => undefined,
  ) {
    this.secrets = new AgentSecretCache(serverKey);
    this.path = join(dataDir, REGISTRY_FILE);
    this.reload();
    this.watching = true;
  }

  lookup(accessKeyId: string): AgentKeyLookup | undefined {
    this.reloadSoon();
    return this.byKeyId.get(accessKeyId);
  }

  revokedAt(agent: string): string | undefined {
    this.reloadSoon();
    return Object.hasOwn(this.state.agents, agent) ? this.state.agents[agent]?.revokedAt : undefined;
  }

  secretFor(accessKeyId: string): string {
    return this.secrets.secretFor(accessKeyId);
  }

  recordUse(accessKeyId: string, at: number = Date.now()): void {
    this.uses ??= new LastUseRecorder((batch) => this.writeUses(batch));
    this.uses.note(accessKeyId, at);
  }

  issue(agent: string, options: IssueOptions = {}): IssuedAgentKey {
    validAgentName(agent);
    this.reload();
    const accessKeyId = newAccessKeyId();
    const now = Date.now();
    const createdAt = new Date(now).toISOString();
    const expiresAt = options.ttlMs === undefined ? undefined : new Date(now + options.ttlMs).toISOString();
    const record: AgentKeyRecord = { accessKeyId, createdAt, ...(expiresAt !== undefined && { expiresAt }) };
    // Own properties only: an agent may be called "constructor".
    const entry = Object.hasOwn(this.state.agents, agent) ? (this.state.agents[agent] ?? { keys: [] }) : { keys: [] };
    this.write({ ...this.state, agents: { ...this.state.agents, [agent]: { ...entry, keys: [...entry.keys, record] } } });
    return { agent, accessKeyId, secretAccessKey: this.secretFor(accessKeyId), createdAt, ...(expiresAt !== undefined && { expiresAt }) };
  }

  revoke(agentOrKeyId: string): string[] {
    this.reload();
    const revokedAt = new Date().toISOString();
    const byKey = this.byKeyId.has(agentOrKeyId);
    // A subject shaped like a key id is one: an unknown one revokes nothing, never an agent of that name.
    if (!byKey && (looksLikeAgentKeyId(agentOrKeyId) || !AGENT_NAME_PATTERN.test(agentOrKeyId))) return [];
    const revoked: string[] = [];
    const agents: RegistryFile['agents'] = {};
    for (const [agent, entry] of Object.entries(this.state.agents)) {
      const keys = entry.keys.map((key) => {
        const hit = key.revokedAt === undefined && (byKey ? key.accessKeyId === agentOrKeyId : agent === agentOrKeyId);
        if (!hit) return key;
        revoked.push(key.accessKeyId);
        return { ...key, revokedAt };
      });
      agents[agent] = { ...entry, keys };
    }
    // An agent is revoked by name even with no key here: its session credentials carry only its name.
    if (!byKey) agents[agentOrKeyId] = { keys: Object.hasOwn(agents, agentOrKeyId) ? (agents[agentOrKeyId]?.keys ?? []) : [], revokedAt };
    if (revoked.length > 0 || !byKey) this.write({ version: 1, agents });
    return revoked;
  }

  list(): AgentListing[] {
    this.reload();
    const used = { ...this.readUses() };
    return Object.entries(this.state.agents).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([agent, entry]) => ({
      agent,
      ...(entry.revokedAt !== undefined && { revokedAt: entry.revokedAt }),
      keys: entry.keys.map((key) => {
        const lastUsedAt = used[key.accessKeyId];
        return lastUsedAt === undefined ? key : { ...key, lastUsedAt };
      }),
    }));
  }

  async close(): Promise<void> {
    await this.uses?.close();
  }

  private reloadSoon(): void {
    const now = Date.now();
    if (now - this.checkedAt < RELOAD_CHECK_MS) return;
    this.checkedAt = now;
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
    for (const [agent, entry] of Object.entries(state.agents)) {
      const before = Object.hasOwn(this.state.agents, agent) ? this.state.agents[agent]?.revokedAt : undefined;
      if (this.watching && entry.revokedAt !== undefined && entry.revokedAt !== before) this.onChange({ kind: 'agent_revoked', agent, revokedAt: entry.revokedAt });
      for (const stored of entry.keys) {
        const key = revokedWithAgent(stored, entry.revokedAt);
        byKeyId.set(key.accessKeyId, { agent, key });
        const seen = this.byKeyId.get(key.accessKeyId);
        if (!this.watching) continue;
        if (seen === undefined) this.onChange({ kind: 'issued', agent, accessKeyId: key.accessKeyId, ...(key.expiresAt !== undefined && { expiresAt: key.expiresAt }) });
        if (key.revokedAt !== undefined && seen?.key.revokedAt === undefined) this.onChange({ kind: 'revoked', agent, accessKeyId: key.accessKeyId, revokedAt: key.revokedAt });
      }
    }
    this.state = state;
    this.byKeyId = byKeyId;
    this.loadedVersion = version;
  }

  private write(state: RegistryFile): void {
    writeAtomically(this.dataDir, this.path, state);
    this.apply(state, versionOf(this.path));
  }

  private readUses(): Record<string, string> {
    try {
      return JSON.parse(readFileSync(join(this.dataDir, LAST_USE_FILE), 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }

  /** Merges by the later time, so replicas sharing the directory do not move a last use back. */
  private writeUses(batch: ReadonlyMap<string, string>): void {
    const uses = this.readUses();
    for (const [id, at] of batch) if ((uses[id] ?? '') < at) uses[id] = at;
    writeAtomically(this.dataDir, join(this.dataDir, LAST_USE_FILE), uses);
  }
}

/**
 * A key issued before its agent was revoked is revoked with it, even if the key's own record
 * missed the revocation (issued on another machine while the agent was being revoked).
 */
export function revokedWithAgent(key: AgentKeyRecord, agentRevokedAt: string | undefined): AgentKeyRecord {
  if (agentRevokedAt === undefined || key.revokedAt !== undefined || key.createdAt > agentRevokedAt) return key;
  return { ...key, revokedAt: agentRevokedAt };
}

function writeAtomically(dataDir: string, path: string, value: unknown): void {
  ensureDataDir(dataDir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

function versionOf(path: string): string {
  try {
    const stat = statSync(path);
    return `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
  } catch {
    return '';
  }
}
