import { PolicyLoadError } from '../policy/load.js';
import { agentsCommands } from './agents.js';
import { approvalsCommands } from './approvals.js';
import { columns, groupHelp, helpText, runCommand, usageLine, type CliIo, type Command, type CommandGroup } from './args.js';
import { auditCommands } from './audit.js';
import { credentialRelay } from './credential-relay.js';
import { demo } from './demo.js';
import { policyCommands } from './policy.js';
import { reviewersCommands } from './reviewers.js';
import { serve, SETTINGS_HELP } from './serve.js';

const ENTRIES: ReadonlyArray<Command | CommandGroup> = [serve, credentialRelay, demo, agentsCommands, approvalsCommands, reviewersCommands, auditCommands, policyCommands];

function isGroup(entry: Command | CommandGroup): entry is CommandGroup {
  return 'commands' in entry;
}

function nameOf(entry: Command | CommandGroup): string {
  return isGroup(entry) ? entry.name : entry.spec.name;
}

function usage(): string {
  const commands = ENTRIES.flatMap((e) => (isGroup(e) ? e.commands : [e]));
  const rows = columns(commands.map((c) => [usageLine(c.spec).slice('countersign '.length), c.spec.summary]), 40);
  return [
    'usage: countersign <command> [options]',
    '',
    'A credential-brokering proxy for AI agents: every AWS call identified, decided by policy, re-signed with single-action STS credentials.',
    '',
    'commands:',
    ...rows,
    '',
    'Every command answers --help (or -h); "countersign help COMMAND" does the same.',
    '',
    SETTINGS_HELP,
  ].join('\n');
}

/** `countersign help [COMMAND [SUBCOMMAND]]`: the help of what the words name. */
function help(words: readonly string[], io: CliIo): number {
  if (words.length === 0) {
    io.out(usage());
    return 0;
  }
  const entry = ENTRIES.find((e) => nameOf(e) === words[0]);
  const sub = entry !== undefined && isGroup(entry) && words[1] !== undefined ? entry.commands.find((c) => c.spec.name === `${entry.name} ${words[1]}`) : undefined;
  if (entry === undefined || (isGroup(entry) && words[1] !== undefined && sub === undefined) || (!isGroup(entry) && words.length > 1) || words.length > 2) {
    io.err(`countersign help: no command "${words.join(' ')}"`);
    io.err(usage());
    return 2;
  }
  io.out(sub !== undefined ? helpText(sub.spec) : isGroup(entry) ? groupHelp(entry) : helpText(entry.spec));
  return 0;
}

async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [word, ...rest] = argv;
  if (word === undefined) {
    io.err(usage());
    return 2;
  }
  if (word === 'help' || word === '--help' || word === '-h') return help(word === 'help' ? rest : [], io);
  const entry = ENTRIES.find((e) => nameOf(e) === word);
  if (entry === undefined) {
    io.err(`countersign: unknown command "${word}"`);
    io.err(usage());
    return 2;
  }
  if (!isGroup(entry)) return runCommand(entry, rest, io);
  const [verb, ...args] = rest;
  const sub = entry.commands.find((c) => c.spec.name === `${entry.name} ${verb ?? ''}`);
  if (sub !== undefined) return runCommand(sub, args, io);
  if (verb === '--help' || verb === '-h') {
    io.out(groupHelp(entry));
    return 0;
  }
  io.err(verb === undefined ? `countersign ${entry.name}: give a command` : `countersign ${entry.name}: unknown ${verb.startsWith('-') ? 'option' : 'command'} ${verb.startsWith('-') ? verb : `"${verb}"`}`);
  io.err(groupHelp(entry));
  return 2;
}

/**
 * A reader that stops early (`countersign audit export | head -1`) closes the pipe: that ends
 * the command quietly, for every command, instead of an unhandled EPIPE.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

quietOnClosedPipe(process.stdout);
quietOnClosedPipe(process.stderr);

const io: CliIo = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
  env: process.env,
};

main(process.argv.slice(2), io).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof PolicyLoadError) {
      process.stderr.write(`countersign: the policy set is invalid:\n${error.message}\n`);
    } else if (error instanceof Error) {
      process.stderr.write(`countersign: ${error.message}\n`);
    } else {
      process.stderr.write(`countersign: ${String(error)}\n`);
    }
    process.exitCode = 1;
  },
);
