/**
 * The CLI's one argument layer: each command declares its arguments and options once, and both
 * the parser and the help text come from that declaration. `--help` and `-h` win over
 * everything else (a command never runs, or loads its configuration, when asked for help).
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** What a string option takes, as the help shows it (`--since ISO`). */
  readonly value?: string;
  readonly description: string;
}

export type OptionsSpec = Readonly<Record<string, OptionSpec>>;

export interface PositionalSpec {
  readonly name: string;
  readonly description: string;
  readonly optional?: true;
  /** Takes every remaining argument. */
  readonly rest?: true;
}

export interface CommandSpec<O extends OptionsSpec = OptionsSpec> {
  /** The words after `countersign`: `agents issue`. */
  readonly name: string;
  readonly summary: string;
  readonly positionals?: readonly PositionalSpec[];
  readonly options?: O;
  /** Paragraphs after the summary. */
  readonly details?: readonly string[];
  readonly examples: readonly string[];
}

export interface ParsedArgs<O extends OptionsSpec> {
  readonly positionals: readonly string[];
  string(name: keyof O & string): string | undefined;
  flag(name: keyof O & string): boolean;
}

export type ParseOutcome<O extends OptionsSpec> =
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'ok'; readonly args: ParsedArgs<O> };

const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'show this help' };

/** `--help` or `-h` anywhere before a `--`. */
export function asksForHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

export function parseCommand<O extends OptionsSpec>(spec: CommandSpec<O>, argv: readonly string[]): ParseOutcome<O> {
  if (asksForHelp(argv)) return { kind: 'help' };
  const declared: OptionsSpec = spec.options ?? {};
  const config = Object.fromEntries(Object.entries(declared).map(([name, o]) => [name, o.short === undefined ? { type: o.type } : { type: o.type, short: o.short }]));
  // Not strict: unknown options and missing values come back as tokens, judged here with a
  // message of our own (node's names the option in a sentence about `--`).
  const { tokens } = parseArgs({ args: [...argv], options: config, strict: false, allowPositionals: true, tokens: true });
  const values = new Map<string, string | boolean>();
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') continue;
    const option = declared[token.name];
    if (option === undefined) return { kind: 'error', message: `unknown option ${token.rawName}` };
    if (values.has(token.name)) return { kind: 'error', message: `--${token.name} is given twice` };
    if (option.type === 'boolean') {
      if (token.inlineValue === true) return { kind: 'error', message: `--${token.name} takes no value` };
      values.set(token.name, true);
      continue;
    }
    if (token.value === undefined || (token.inlineValue !== true && /^--?[A-Za-z]/.test(token.value))) {
      return { kind: 'error', message: `--${token.name} needs a value (${option.value ?? 'VALUE'})` };
    }
    values.set(token.name, token.value);
  }
  const expected = spec.positionals ?? [];
  const required = expected.filter((p) => p.optional !== true && p.rest !== true);
  if (positionals.length < required.length) return { kind: 'error', message: `missing ${required[positionals.length]?.name ?? 'an argument'}` };
  if (!expected.some((p) => p.rest === true) && positionals.length > expected.length) {
    return { kind: 'error', message: `unexpected argument "${positionals[expected.length] ?? ''}"` };
  }
  return {
    kind: 'ok',
    args: {
      positionals,
      string: (name) => {
        const value = values.get(name);
        return typeof value === 'string' ? value : undefined;
      },
      flag: (name) => values.get(name) === true,
    },
  };
}

function optionWords(name: string, option: OptionSpec): string {
  return `${option.short === undefined ? '' : `-${option.short}, `}--${name}${option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : ''}`;
}

function positionalWords(p: PositionalSpec): string {
  const word = p.rest === true ? `${p.name}...` : p.name;
  return p.optional === true || p.rest === true ? `[${word}]` : word;
}

/** `countersign agents issue NAME [--json] [--force]`; long option lists become `[options]`. */
export function usageLine(spec: CommandSpec): string {
  const options = Object.entries(spec.options ?? {});
  const words = [`countersign ${spec.name}`, ...(spec.positionals ?? []).map(positionalWords)];
  if (options.length > 3) words.push('[options]');
  else for (const [name, option] of options) words.push(`[${optionWords(name, option).replace(/^-., /, '')}]`);
  return words.join(' ');
}

const WIDTH = 100;

/** Words wrapped at WIDTH; lines already indented (a preformatted block) are kept as they are. */
export function wrap(text: string, indent = ''): string {
  return text
    .split('\n')
    .map((line) => {
      if (/^\s/.test(line) || indent.length + line.length <= WIDTH) return indent + line;
      const out: string[] = [];
      let current = '';
      for (const word of line.split(' ')) {
        if (current !== '' && indent.length + current.length + 1 + word.length > WIDTH) {
          out.push(indent + current);
          current = word;
        } else current = current === '' ? word : `${current} ${word}`;
      }
      return [...out, indent + current].join('\n');
    })
    .join('\n');
}

/** Two columns, the second aligned and wrapped under itself; a long first column gets a line of its own. */
export function columns(rows: ReadonlyArray<readonly [string, string]>, maxWidth = 28): string[] {
  const width = Math.min(maxWidth, Math.max(...rows.map(([left]) => left.length)));
  const pad = ' '.repeat(width + 4);
  return rows.map(([left, right]) => {
    const body = wrap(right, pad).slice(pad.length);
    return left.length > width ? `  ${left}\n${pad}${body}` : `  ${left.padEnd(width)}  ${body}`;
  });
}

export function helpText(spec: CommandSpec): string {
  const lines = [`usage: ${usageLine(spec)}`, '', wrap(spec.summary)];
  for (const paragraph of spec.details ?? []) lines.push('', wrap(paragraph));
  const positionals = spec.positionals ?? [];
  if (positionals.length > 0) lines.push('', 'arguments:', ...columns(positionals.map((p) => [p.name, p.description])));
  const options = Object.entries({ ...spec.options, help: HELP });
  lines.push('', 'options:', ...columns(options.map(([name, option]) => [optionWords(name, option), option.description])));
  lines.push('', spec.examples.length === 1 ? 'example:' : 'examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** A command's declaration and what it does with parsed arguments. */
export interface Command {
  readonly spec: CommandSpec;
  run(args: ParsedArgs<OptionsSpec>, io: CliIo): Promise<number> | number;
}

export interface CliIo {
  /** A line of the command's output (stdout). */
  out(line: string): void;
  /** A line about the command (stderr): errors, usage, progress. */
  err(line: string): void;
  readonly env: NodeJS.ProcessEnv;
}

/** Ties a declaration to its code, keeping the option names typed inside `run`. */
export function command<const O extends OptionsSpec>(spec: CommandSpec<O>, run: (args: ParsedArgs<O>, io: CliIo) => Promise<number> | number): Command {
  return { spec, run: (args, io) => run(args, io) };
}

/** A word with subcommands (`agents`, `policy`, ...). */
export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly Command[];
  readonly details?: readonly string[];
}

export function groupHelp(group: CommandGroup): string {
  const lines = [`usage: countersign ${group.name} <command> [options]`, '', wrap(group.summary)];
  for (const paragraph of group.details ?? []) lines.push('', wrap(paragraph));
  lines.push('', 'commands:', ...columns(group.commands.map((c) => [usageLine(c.spec).slice(`countersign ${group.name} `.length), c.spec.summary])));
  lines.push('', `Run "countersign ${group.name} <command> --help" for its options and an example.`);
  return lines.join('\n');
}

/** Runs a parsed command; help goes to stdout (exit 0), a usage error to stderr with the usage (exit 2). */
export async function runCommand(cmd: Command, argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(cmd.spec, argv);
  if (parsed.kind === 'help') {
    io.out(helpText(cmd.spec));
    return 0;
  }
  if (parsed.kind === 'error') {
    io.err(`countersign ${cmd.spec.name}: ${parsed.message}`);
    io.err(`usage: ${usageLine(cmd.spec)}  (countersign ${cmd.spec.name} --help for more)`);
    return 2;
  }
  return cmd.run(parsed.args, io);
}
