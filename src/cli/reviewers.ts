import { ReviewTokens } from '../approvals/links.js';
import { loadConfig } from '../config/config.js';
import { loadOrCreateServerKey } from '../identity/registry.js';
import { loadPolicyDir } from '../policy/load.js';
import { command, type CommandGroup } from './args.js';
import { table } from './format.js';

const list = command(
  {
    name: 'reviewers list',
    summary: 'Reviewers declared in the policy Directory (COUNTERSIGN_POLICY_DIR).',
    options: { json: { type: 'boolean', description: 'print [{"id", "displayName", "groups", "email", "slackUserId", "teamsUserId"}] as JSON' } },
    examples: ['countersign reviewers list'],
  },
  (args, io) => {
    const reviewers = loadPolicyDir(loadConfig(io.env).policyDir).directory.reviewers;
    if (args.flag('json')) {
      io.out(JSON.stringify(reviewers.map(({ source: _source, ...reviewer }) => reviewer)));
      return 0;
    }
    if (reviewers.length === 0) {
      io.out('No reviewers are declared (kind: Directory, reviewers:).');
      return 0;
    }
    for (const line of table(['ID', 'NAME', 'GROUPS', 'EMAIL'], reviewers.map((r) => [r.id, r.displayName, r.groups.join(','), r.email ?? '']))) io.out(line);
    return 0;
  },
);

const token = command(
  {
    name: 'reviewers token',
    summary: "Print a reviewer's API token (an export line; --bare for a bearer header).",
    positionals: [{ name: 'ID', description: 'a reviewer id the Directory declares' }],
    options: { bare: { type: 'boolean', description: 'print the token alone, for a bearer header' } },
    details: [
      'The token is derived from the server key in COUNTERSIGN_DATA_DIR and names the reviewer: whoever holds it reviews as them. Give it to that reviewer only.',
    ],
    examples: ['eval "$(countersign reviewers token dana)"', 'curl -H "Authorization: Bearer $(countersign reviewers token dana --bare)" http://127.0.0.1:8081/api/v1/approvals'],
  },
  (args, io) => {
    const config = loadConfig(io.env);
    const id = args.positionals[0] ?? '';
    const reviewers = loadPolicyDir(config.policyDir).directory.reviewers;
    if (!reviewers.some((r) => r.id === id)) {
      io.err(`countersign: no reviewer "${id}" is declared in ${config.policyDir} (countersign reviewers list shows who is).`);
      return 1;
    }
    const apiToken = ReviewTokens.fromServerKey(loadOrCreateServerKey(config.dataDir)).apiToken(id);
    io.out(args.flag('bare') ? apiToken : `export COUNTERSIGN_REVIEWER_TOKEN=${apiToken}`);
    return 0;
  },
);

export const reviewersCommands: CommandGroup = {
  name: 'reviewers',
  summary: 'Reviewers: who the Directory declares, and their API tokens.',
  commands: [list, token],
};
