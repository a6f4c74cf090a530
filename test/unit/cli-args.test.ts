// The CLI's argument layer and human output (src/cli/args.ts, format.ts, invocation.ts).
import { describe, expect, it } from 'vitest';
import { asksForHelp, helpText, parseCommand, usageLine, wrap, type CommandSpec } from '../../src/cli/args.js';
import { duration, printable, relative, table } from '../../src/cli/format.js';
import { cliInvocation } from '../../src/cli/invocation.js';
import { explainPositionals } from '../../src/cli/policy.js';

const SPEC = {
  name: 'things make',
  summary: 'Make a thing.',
  positionals: [{ name: 'NAME', description: 'the thing' }],
  options: { json: { type: 'boolean', description: 'as JSON' }, comment: { type: 'string', value: 'TEXT', description: 'why' } },
  examples: ['countersign things make x'],
} as const satisfies CommandSpec;

describe('parseCommand', () => {
  it('parses declared options and positionals', () => {
    const parsed = parseCommand(SPEC, ['x', '--json', '--comment', 'because']);
    expect(parsed.kind).toBe('ok');
    if (parsed.kind !== 'ok') return;
    expect(parsed.args.positionals).toEqual(['x']);
    expect(parsed.args.flag('json')).toBe(true);
    expect(parsed.args.string('comment')).toBe('because');
    const inline = parseCommand(SPEC, ['x', '--comment=-1']);
    expect(inline.kind === 'ok' && inline.args.string('comment')).toBe('-1');
  });

  it('help wins over everything before --, even a bad option or a missing argument', () => {
    for (const argv of [['--help'], ['-h'], ['--bogus', '-h'], ['--comment', '--help'], ['x', 'y', 'z', '--help']]) expect(parseCommand(SPEC, argv)).toEqual({ kind: 'help' });
    expect(asksForHelp(['--', '--help'])).toBe(false);
  });

  it('says what is wrong in one line', () => {
    const error = (argv: string[]) => {
      const parsed = parseCommand(SPEC, argv);
      return parsed.kind === 'error' ? parsed.message : parsed.kind;
    };
    expect(error(['x', '--bogus'])).toBe('unknown option --bogus');
    expect(error(['x', '-q'])).toBe('unknown option -q');
    expect(error(['x', '--comment'])).toBe('--comment needs a value (TEXT)');
    expect(error(['x', '--comment', '--json'])).toBe('--comment needs a value (TEXT)');
    expect(error(['x', '--json=yes'])).toBe('--json takes no value');
    expect(error(['x', '--json', '--json'])).toBe('--json is given twice');
    expect(error([])).toBe('missing NAME');
    expect(error(['x', 'y'])).toBe('unexpected argument "y"');
    expect(error(['--', '--json'])).toBe('ok'); // after --, a word is a positional
  });

  it('help comes from the declaration: usage, arguments, options, example', () => {
    expect(usageLine(SPEC)).toBe('countersign things make NAME [--json] [--comment TEXT]');
    expect(helpText(SPEC)).toBe(
      [
        'usage: countersign things make NAME [--json] [--comment TEXT]',
        '',
        'Make a thing.',
        '',
        'arguments:',
        '  NAME  the thing',
        '',
        'options:',
        '  --json          as JSON',
        '  --comment TEXT  why',
        '  -h, --help      show this help',
        '',
        'example:',
        '  countersign things make x',
      ].join('\n'),
    );
  });

  it('wraps prose at 100 columns and leaves indented blocks alone', () => {
    const long = Array.from({ length: 40 }, () => 'word').join(' ');
    expect(wrap(long).split('\n').every((line) => line.length <= 100)).toBe(true);
    expect(wrap(`  ${long}`)).toBe(`  ${long}`);
  });
});

describe('policy explain positionals', () => {
  it('finds DIR first or last, and refuses what it cannot place', () => {
    expect(explainPositionals(['policies', 'GET', 's3://b/k'])).toEqual({ dir: 'policies', request: 'GET s3://b/k' });
    expect(explainPositionals(['GET', 's3://b/k', 'policies'])).toEqual({ dir: 'policies', request: 'GET s3://b/k' });
    expect(explainPositionals(['GET s3://b/k'])).toEqual({ request: 'GET s3://b/k' });
    expect(explainPositionals(['policies'])).toEqual({ dir: 'policies' });
    expect(explainPositionals([])).toEqual({});
    expect(explainPositionals(['GET', 'policies', 's3://b/k'])).toHaveProperty('error');
    expect(explainPositionals(['a', 'GET', 's3://b/k', 'b'])).toHaveProperty('error');
  });
});

describe('human output', () => {
  it('aligns columns under a header', () => {
    expect(table(['A', 'BB', 'C'], [['xxx', 'y', 'last column is ragged'], ['z', 'yyyy', '']])).toEqual(['A    BB    C', 'xxx  y     last column is ragged', 'z    yyyy']);
  });

  it('says how far a time is', () => {
    expect(duration(45_000)).toBe('45 s');
    expect(duration(4 * 60_000 + 59_000)).toBe('4 min');
    expect(duration(3 * 3600_000)).toBe('3 h');
    expect(duration(72 * 3600_000)).toBe('3 d');
    expect(relative(1_000 + 240_000, 1_000)).toBe('in 4 min');
    expect(relative(1_000, 1_000 + 120_000)).toBe('2 min ago');
  });

  it('makes control characters and bidi overrides visible (rejects terminal escape injection)', () => {
    expect(printable('a\u001b[2Jb\u009bc\u202ed\ne')).toBe('a\\u001b[2Jb\\u009bc\\u202ed\\u000ae');
    expect(printable('line\nnext', true)).toBe('line\nnext');
  });
});

describe('cliInvocation', () => {
  it('prints how the CLI was run, never npx', () => {
    expect(cliInvocation('/usr/local/bin/countersign', '/home/me')).toBe('countersign');
    expect(cliInvocation('/work/cs/dist/cli/main.js', '/work/cs')).toBe('node dist/cli/main.js');
    expect(cliInvocation('/work/cs/dist/cli/main.js', '/tmp')).toBe('node /work/cs/dist/cli/main.js');
    expect(cliInvocation('/app/dist/cli/main.js', '/')).toBe('node /app/dist/cli/main.js');
    expect(cliInvocation('/my dir/dist/cli/main.js', '/tmp')).toBe("node '/my dir/dist/cli/main.js'");
  });
});
