import { ConfigError, loadConfig, SETTINGS } from '../config/config.js';
import { PolicyLoadError } from '../policy/load.js';
import { agentsCommand } from './agents.js';
import { approvalsCommand } from './approvals.js';
import { auditCommand } from './audit.js';
import { reviewersCommand } from './reviewers.js';
import { policyCommand } from './policy.js';
import { serveCommand } from './serve.js';

const USAGE = `usage: countersign <command>

  serve                          start the proxy (settings from the environment, below)
  agents issue NAME [--json]     issue an agent key (prints AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
  agents revoke NAME|KEY_ID      revoke an agent's keys, or one key
  agents list                    list agents and their keys
  approvals list [--all]         requests waiting for review (as COUNTERSIGN_REVIEWER_TOKEN's reviewer)
  approvals show|approve|deny ID [--comment TEXT]
  reviewers list                 reviewers declared in the policy directory
  reviewers token ID             print a reviewer's API token (for the approvals CLI and JSON API)
  audit verify                   walk the audit log's hash chain and name the first broken link
  audit export [filters]         records as JSONL or CSV (--since --until --agent --decision --event --format)
  policy check [DIR] [--strict]  validate the policy set and warn about risky or dead rules
  policy test [DIR]              run the policy tests in DIR/*.test.yaml
  policy explain --agent NAME REQUEST
                                 show every rule against a request and the decision

settings:
${Object.entries(SETTINGS)
  .map(([name, what]) => `  ${name.padEnd(32)} ${what}`)
  .join('\n')}
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const out = (line: string) => process.stdout.write(line + '\n');
  switch (command) {
    case 'serve':
      await serveCommand(loadConfig());
      return -1; // keeps running
    case 'agents':
      return agentsCommand(loadConfig(), rest, out);
    case 'policy':
      return policyCommand(loadConfig().policyDir, rest, out);
    case 'approvals':
      return approvalsCommand(loadConfig(), rest, out);
    case 'reviewers':
      return reviewersCommand(loadConfig(), rest, out);
    case 'audit':
      return auditCommand(loadConfig(), rest, out);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`countersign: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof PolicyLoadError) {
      process.stderr.write(`countersign: the policy set is invalid:\n${error.message}\n`);
    } else if (error instanceof ConfigError || error instanceof Error) {
      process.stderr.write(`countersign: ${error.message}\n`);
    } else {
      process.stderr.write(`countersign: ${String(error)}\n`);
    }
    process.exitCode = 1;
  },
);
