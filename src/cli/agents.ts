import { loadConfig, type Config } from '../config/config.js';
import { AgentRegistry, loadOrCreateServerKey } from '../identity/registry.js';
import { loadPolicyDir, PolicyLoadError } from '../policy/load.js';
import { command, type CommandGroup } from './args.js';
import { table } from './format.js';

function registry(config: Config): AgentRegistry {
  return new AgentRegistry(config.dataDir, loadOrCreateServerKey(config.dataDir));
}

const DATA_DIR_NOTE = 'Reads and writes the registry in COUNTERSIGN_DATA_DIR (default ./.countersign); a running proxy sharing that directory picks changes up within a second.';

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

const issue = command(
  {
    name: 'agents issue',
    summary: 'Issue a key for an agent (prints AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).',
    positionals: [{ name: 'NAME', description: 'the agent, as the policy Directory declares it (kind: Directory, agents:)' }],
    options: {
      json: { type: 'boolean', description: 'print {"agent", "accessKeyId", "secretAccessKey"} as JSON' },
      force: { type: 'boolean', description: 'issue even though the Directory does not declare NAME (the agent then has no owners, so nobody is kept from reviewing its requests, and no groups)' },
    },
    details: [
      'The key is printed as export lines (or JSON with --json). It is worthless against AWS: it works only through countersign.',
      'NAME must be declared in the Directory of COUNTERSIGN_POLICY_DIR (default ./policies): that is where its owners, who may not approve its requests, and its groups are. ' + DATA_DIR_NOTE,
    ],
    examples: ['countersign agents issue report-bot', 'COUNTERSIGN_DATA_DIR=cs-data COUNTERSIGN_POLICY_DIR=policies countersign agents issue report-bot --json > report-bot.json'],
  },
  (args, io) => {
    const config = loadConfig(io.env);
    const name = args.positionals[0] ?? '';
    if (!args.flag('force')) {
      const refusal = undeclared(config, name);
      if (refusal !== undefined) {
        io.err(refusal);
        return 1;
      }
    }
    const key = registry(config).issue(name);
    if (args.flag('json')) {
      io.out(JSON.stringify(key));
    } else {
      io.out(`# countersign agent key for "${key.agent}": worthless against AWS, valid only through countersign.`);
      io.out(`export AWS_ACCESS_KEY_ID=${key.accessKeyId}`);
      io.out(`export AWS_SECRET_ACCESS_KEY=${key.secretAccessKey}`);
    }
    return 0;
  },
);

const revoke = command(
  {
    name: 'agents revoke',
    summary: "Revoke an agent's keys, or one key.",
    positionals: [{ name: 'NAME|KEY_ID', description: 'an agent name (every key it has) or one access key id (CSAK...)' }],
    details: [DATA_DIR_NOTE],
    examples: ['countersign agents revoke report-bot', 'countersign agents revoke CSAKEXAMPLE0123456789'],
  },
  (args, io) => {
    const subject = args.positionals[0] ?? '';
    const revoked = registry(loadConfig(io.env)).revoke(subject);
    if (revoked.length === 0) {
      io.err(`countersign: no active key matches "${subject}" (give an agent name or an access key id; countersign agents list shows them).`);
      return 1;
    }
    io.out(`Revoked ${revoked.join(', ')}.`);
    return 0;
  },
);

const list = command(
  {
    name: 'agents list',
    summary: 'List agents and their keys.',
    options: { json: { type: 'boolean', description: 'print [{"agent", "keys": [{"accessKeyId", "createdAt", "revokedAt"}]}] as JSON' } },
    details: ['No secrets: the registry holds none (agent secrets derive from the server key). ' + DATA_DIR_NOTE],
    examples: ['countersign agents list', 'countersign agents list --json | jq -r ".[].agent"'],
  },
  (args, io) => {
    const agents = registry(loadConfig(io.env)).list();
    if (args.flag('json')) {
      io.out(JSON.stringify(agents));
      return 0;
    }
    if (agents.length === 0) {
      io.out('No agent keys yet: countersign agents issue NAME issues one.');
      return 0;
    }
    const rows = agents.flatMap(({ agent, keys }) => keys.map((key) => [agent, key.accessKeyId, key.revokedAt === undefined ? 'active' : `revoked ${key.revokedAt}`, key.createdAt]));
    for (const line of table(['AGENT', 'ACCESS KEY ID', 'STATUS', 'ISSUED'], rows)) io.out(line);
    return 0;
  },
);

export const agentsCommands: CommandGroup = {
  name: 'agents',
  summary: 'Agent keys: issue, revoke and list them.',
  commands: [issue, revoke, list],
};
