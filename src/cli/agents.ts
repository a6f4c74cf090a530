import { loadConfig, type Config } from '../config/config.js';
import { DEFAULT_KEY_TTL, parseKeyTtl } from '../identity/agent-keys.js';
import { FileAgentRegistry, loadOrCreateServerKey, type AgentListing, type IssuedAgentKey } from '../identity/registry.js';
import { loadPolicyDir, PolicyLoadError } from '../policy/load.js';
import { adminTarget, callAdmin } from './admin-client.js';
import { command, type CliIo, type CommandGroup } from './args.js';
import { table } from './format.js';

function registry(config: Config): FileAgentRegistry {
  return new FileAgentRegistry(config.dataDir, loadOrCreateServerKey(config.dataDir));
}

const DATA_DIR_NOTE =
  'Without --server: reads and writes the registry in COUNTERSIGN_DATA_DIR (default ./.countersign); a running proxy sharing that directory picks changes up within a second. ' +
  'With --server URL (or COUNTERSIGN_ADMIN_URL): calls the admin API of a running countersign with the operator token (COUNTERSIGN_ADMIN_TOKEN, or COUNTERSIGN_ADMIN_TOKEN_FILE), and every replica takes the change within a second.';

const SERVER_OPTION = { type: 'string', value: 'URL', description: "a running countersign's admin listener (http://HOST:PORT; default COUNTERSIGN_ADMIN_URL): call its admin API instead of the local data directory" } as const;

/**
 * Why an agent the Directory does not declare gets no key without --force: the Directory names
 * the agent's owners, who may never review its requests, and the groups its rules refer to.
 */
function undeclared(config: Config, name: string): string | undefined {
  let agents: string[];
  try {
    agents = loadPolicyDir(config.policyDir).directory.agents.map((a) => a.name);
  } catch (error) {
    if (!(error instanceof PolicyLoadError)) throw error;
    return `countersign: cannot read the Directory to check agent "${name}":\n${error.message}\nSet COUNTERSIGN_POLICY_DIR to the policies the proxy runs with, or run again with --force.`;
  }
  if (agents.includes(name)) return undefined;
  const declared = agents.length === 0 ? 'it declares no agents' : `it declares ${[...agents].sort().join(', ')}`;
  return [
    `countersign: the Directory in ${config.policyDir} does not know agent "${name}" (${declared}).`,
    `Declare it in a kind: Directory file (like policies/directory.yaml) with its owners and groups, or point COUNTERSIGN_POLICY_DIR at the policies the proxy runs with;`,
    `or run again with --force to issue a key for an agent with no owners and no groups.`,
  ].join('\n');
}

function printKey(io: CliIo, key: IssuedAgentKey, json: boolean): void {
  if (json) {
    io.out(JSON.stringify(key));
    return;
  }
  const expiry = key.expiresAt === undefined ? 'never expires' : `expires ${key.expiresAt}`;
  io.out(`# countersign agent key for "${key.agent}": worthless against AWS, valid only through countersign; ${expiry}.`);
  io.out(`export AWS_ACCESS_KEY_ID=${key.accessKeyId}`);
  io.out(`export AWS_SECRET_ACCESS_KEY=${key.secretAccessKey}`);
}

const issue = command(
  {
    name: 'agents issue',
    summary: 'Issue a key for an agent (prints AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).',
    positionals: [{ name: 'NAME', description: 'the agent, as the policy Directory declares it (kind: Directory, agents:)' }],
    options: {
      ttl: { type: 'string', value: 'TTL', description: `how long the key works: a number and s, m, h or d (30d, 12h), at most 3650d; or never (default ${DEFAULT_KEY_TTL})` },
      json: { type: 'boolean', description: 'print {"agent", "accessKeyId", "secretAccessKey", "createdAt", "expiresAt"} as JSON' },
      force: { type: 'boolean', description: 'issue even though the Directory does not declare NAME (the agent then has no owners, so nobody is kept from reviewing its requests, and no groups)' },
      server: SERVER_OPTION,
    },
    details: [
      'The key is printed as export lines (or JSON with --json). It is worthless against AWS: it works only through countersign.',
      `It expires after --ttl (default ${DEFAULT_KEY_TTL}, the rotation period AWS holds IAM access keys to); countersign then refuses it with ExpiredAgentKey. --ttl never issues a key that works until revoked.`,
      'NAME must be declared in the Directory: locally the one in COUNTERSIGN_POLICY_DIR (default ./policies), with --server the one the server runs with. That is where its owners, who may not approve its requests, and its groups are. ' + DATA_DIR_NOTE,
    ],
    examples: [
      'countersign agents issue report-bot --ttl 30d',
      'COUNTERSIGN_ADMIN_TOKEN_FILE=admin-token countersign agents issue report-bot --server http://127.0.0.1:9090 --json > report-bot.json',
      'COUNTERSIGN_DATA_DIR=cs-data COUNTERSIGN_POLICY_DIR=policies countersign agents issue report-bot --json > report-bot.json',
    ],
  },
  async (args, io) => {
    const name = args.positionals[0] ?? '';
    const ttl = args.string('ttl') ?? DEFAULT_KEY_TTL;
    let ttlMs: number | undefined;
    try {
      ttlMs = parseKeyTtl(ttl);
    } catch (error) {
      io.err(`countersign: ${(error as Error).message}`);
      return 2;
    }
    const target = adminTarget(args.string('server'), io);
    if (typeof target === 'number') return target;
    if (target !== undefined) {
      const answer = await callAdmin(io, target, 'POST', `/v1/agents/${encodeURIComponent(name)}/keys`, { ttl, ...(args.flag('force') && { force: true }) });
      if (!answer.ok) return answer.exitCode;
      printKey(io, answer.json as unknown as IssuedAgentKey, args.flag('json'));
      return 0;
    }
    const config = loadConfig(io.env);
    if (!args.flag('force')) {
      const refusal = undeclared(config, name);
      if (refusal !== undefined) {
        io.err(refusal);
        return 1;
      }
    }
    let key: IssuedAgentKey;
    try {
      key = registry(config).issue(name, ttlMs === undefined ? {} : { ttlMs });
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      io.err(`countersign: ${error.message}`);
      return 1;
    }
    printKey(io, key, args.flag('json'));
    return 0;
  },
);

const revoke = command(
  {
    name: 'agents revoke',
    summary: "Revoke an agent (every key, and every credential issued to it so far), or one key.",
    positionals: [{ name: 'NAME|KEY_ID', description: 'an agent name (all it holds) or one access key id (CSAK...)' }],
    options: { server: SERVER_OPTION },
    details: [
      'Revoking an agent revokes its keys and records when: every credential issued to it until then, short-lived session credentials from the credential endpoint included, is refused on every replica within seconds. A key issued to it afterwards works.',
      DATA_DIR_NOTE,
    ],
    examples: ['countersign agents revoke report-bot', 'countersign agents revoke CSAKEXAMPLE0123456789 --server http://127.0.0.1:9090'],
  },
  async (args, io) => {
    const subject = args.positionals[0] ?? '';
    const target = adminTarget(args.string('server'), io);
    if (typeof target === 'number') return target;
    const byKey = /^CSAK[A-Z2-7]{16}$/.test(subject);
    let revoked: string[];
    let revokedAt: string | undefined;
    if (target !== undefined) {
      const answer = await callAdmin(io, target, 'POST', byKey ? `/v1/keys/${encodeURIComponent(subject)}/revoke` : `/v1/agents/${encodeURIComponent(subject)}/revoke`);
      if (!answer.ok) return answer.exitCode;
      revoked = answer.json.revokedKeys as string[];
      revokedAt = answer.json.revokedAt as string | undefined;
    } else {
      const local = registry(loadConfig(io.env));
      if (byKey && local.lookup(subject) === undefined) revoked = [];
      else revoked = local.revoke(subject);
      revokedAt = byKey ? undefined : local.revokedAt(subject);
      if (byKey && revoked.length === 0 && local.lookup(subject) === undefined) {
        io.err(`countersign: no key ${subject} is in the registry (countersign agents list shows them).`);
        return 1;
      }
    }
    if (byKey && revoked.length === 0) {
      // The key exists (the admin API answers AdminNotFound for one that does not).
      io.err(`countersign: the key ${subject} was already revoked (countersign agents list shows when).`);
      return 1;
    }
    if (revokedAt === undefined && revoked.length === 0) {
      io.err(`countersign: no agent or key matches "${subject}" (give an agent name or an access key id; countersign agents list shows them).`);
      return 1;
    }
    if (revokedAt === undefined) io.out(`Revoked ${revoked.join(', ')}.`);
    else if (revoked.length === 0) io.out(`Revoked agent "${subject}" at ${revokedAt} (it had no active key; credentials issued to it until then are refused).`);
    else io.out(`Revoked agent "${subject}" at ${revokedAt}: ${revoked.join(', ')}, and every credential issued to it until then.`);
    return 0;
  },
);

function statusOf(key: AgentListing['keys'][number], now: number): string {
  if (key.revokedAt !== undefined) return `revoked ${key.revokedAt}`;
  if (key.expiresAt !== undefined && Date.parse(key.expiresAt) <= now) return 'expired';
  return 'active';
}

const list = command(
  {
    name: 'agents list',
    summary: 'List agents and their keys: issued, expires, last used, revoked.',
    options: {
      json: { type: 'boolean', description: 'print [{"agent", "revokedAt", "keys": [{"accessKeyId", "createdAt", "expiresAt", "revokedAt", "lastUsedAt"}]}] as JSON' },
      server: SERVER_OPTION,
    },
    details: [
      'No secrets: the registry holds none (agent secrets derive from the server key). LAST USED is the last request the key signed that countersign decided on, written at most once a minute per key, so up to about a minute behind. ' + DATA_DIR_NOTE,
    ],
    examples: ['countersign agents list', 'countersign agents list --server http://127.0.0.1:9090 --json | jq -r ".[].agent"'],
  },
  async (args, io) => {
    const target = adminTarget(args.string('server'), io);
    if (typeof target === 'number') return target;
    let agents: readonly AgentListing[];
    if (target !== undefined) {
      const answer = await callAdmin(io, target, 'GET', '/v1/agents');
      if (!answer.ok) return answer.exitCode;
      agents = answer.json.agents as AgentListing[];
    } else {
      agents = registry(loadConfig(io.env)).list();
    }
    if (args.flag('json')) {
      io.out(JSON.stringify(agents));
      return 0;
    }
    if (agents.length === 0) {
      io.out('No agent keys yet: countersign agents issue NAME issues one.');
      return 0;
    }
    const now = Date.now();
    const rows = agents.flatMap(({ agent, revokedAt, keys }) => {
      if (keys.length === 0) return [[agent, '-', revokedAt === undefined ? 'no keys' : `agent revoked ${revokedAt}`, '-', '-', '-']];
      return keys.map((key) => [agent, key.accessKeyId, statusOf(key, now), key.createdAt, key.expiresAt ?? 'never', key.lastUsedAt ?? '-']);
    });
    for (const line of table(['AGENT', 'ACCESS KEY ID', 'STATUS', 'ISSUED', 'EXPIRES', 'LAST USED'], rows)) io.out(line);
    return 0;
  },
);

export const agentsCommands: CommandGroup = {
  name: 'agents',
  summary: 'Agent keys: issue, revoke and list them (locally, or on a running countersign with --server).',
  commands: [issue, revoke, list],
};
