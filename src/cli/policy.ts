import { readFileSync, statSync } from 'node:fs';
import { loadConfig } from '../config/config.js';
import { isCountersignError } from '../errors.js';
import { checkPolicySet } from '../policy/check.js';
import { compilePolicySet } from '../policy/compile.js';
import { explain, formatExplanation } from '../policy/explain.js';
import { loadPolicyDir, PolicyLoadError } from '../policy/load.js';
import { describeRequest, type RequestSpec } from '../policy/request-spec.js';
import { listTestFiles, parseTestFile, runCase } from '../policy/test-runner.js';
import { command, type CliIo, type Command, type CommandGroup, type ParsedArgs, type OptionsSpec } from './args.js';

const DIR = { name: 'DIR', description: 'the policy directory (default COUNTERSIGN_POLICY_DIR, else ./policies)', optional: true } as const;

function defaultDir(io: CliIo): string {
  return loadConfig(io.env).policyDir;
}

/** An invalid policy set is the command's answer (exit 1), not a crash. */
function reportingLoadErrors<O extends OptionsSpec>(run: (args: ParsedArgs<O>, io: CliIo) => Promise<number> | number) {
  return async (args: ParsedArgs<O>, io: CliIo): Promise<number> => {
    try {
      return await run(args, io);
    } catch (error) {
      if (!(error instanceof PolicyLoadError)) throw error;
      io.out(`invalid policy set:\n${error.message}`);
      return 1;
    }
  };
}

const check: Command = command(
  {
    name: 'policy check',
    summary: 'Validate a policy set; warn about dead, risky and unapprovable rules.',
    positionals: [DIR],
    options: { strict: { type: 'boolean', description: 'exit 1 on warnings too (for CI)' } },
    details: ['Errors (with file:line:column) exit 1; warnings exit 0, or 1 with --strict.'],
    examples: ['countersign policy check policies --strict'],
  },
  reportingLoadErrors(async (args, io) => {
    const set = loadPolicyDir(args.positionals[0] ?? defaultDir(io));
    const warnings = await checkPolicySet(set);
    for (const w of warnings) io.out(`${w.file}:${w.line}:${w.column}: warning ${w.code}: ${w.message}`);
    io.out(`ok: ${set.rules.length} rules in ${set.files.length} files, ${warnings.length} warnings (sha256 ${set.hash.slice(0, 16)})`);
    return args.flag('strict') && warnings.length > 0 ? 1 : 0;
  }),
);

const test: Command = command(
  {
    name: 'policy test',
    summary: 'Run the policy tests in DIR/*.test.yaml.',
    positionals: [DIR],
    details: ['Each case (agent, request, expected effect and rule) is decided by the policies in DIR; any failure exits 1.'],
    examples: ['countersign policy test policies'],
  },
  reportingLoadErrors((args, io) => {
    const dir = args.positionals[0] ?? defaultDir(io);
    const policy = compilePolicySet(loadPolicyDir(dir));
    let failed = 0;
    let total = 0;
    for (const file of listTestFiles(dir)) {
      const { cases, issues } = parseTestFile(file);
      for (const issue of issues) io.out(`${issue.file}:${issue.line}:${issue.column}: ${issue.message}`);
      failed += issues.length;
      for (const testCase of cases) {
        total += 1;
        const result = runCase(policy, testCase);
        if (result.passed) continue;
        failed += 1;
        const want = `${testCase.expect.effect}${testCase.expect.rule === undefined ? '' : ` by ${testCase.expect.rule}`}`;
        io.out(`FAIL ${testCase.source.file}:${testCase.source.line}: ${testCase.name}: want ${want}, got ${result.got}`);
      }
    }
    io.out(`${total - Math.min(failed, total)} passed, ${failed} failed`);
    return failed > 0 ? 1 : 0;
  }),
);

const METHOD = /^(GET|HEAD|PUT|POST|DELETE)(\s|$)/;

/**
 * The positionals of `policy explain`: an optional DIR, first or last, and the request written
 * as `METHOD s3://bucket/key` (one word or two). A word that is neither a method nor a URL is the
 * directory; one in the middle of the request, or two of them, is an error, never a guess.
 */
export function explainPositionals(words: readonly string[]): { dir?: string; request?: string } | { error: string } {
  const isRequestWord = (w: string) => METHOD.test(w) || w.includes('://');
  const others = words.map((w, i) => ({ w, i })).filter(({ w }) => !isRequestWord(w));
  if (others.length > 1) return { error: `"${others.map((o) => o.w).join('" and "')}" are neither a method nor a URL; give one policy directory (DIR) and the request as METHOD s3://bucket/key` };
  const dir = others[0];
  if (dir !== undefined && dir.i !== 0 && dir.i !== words.length - 1) return { error: `"${dir.w}" is in the middle of the request; give DIR before or after it` };
  const request = words.filter((_, i) => i !== dir?.i).join(' ');
  return { ...(dir !== undefined && { dir: dir.w }), ...(request !== '' && { request }) };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const explainCommand: Command = command(
  {
    name: 'policy explain',
    summary: 'Show every rule against a request, and the decision.',
    positionals: [DIR, { name: 'REQUEST', description: 'an S3 call written as METHOD s3://bucket/key[?query]', rest: true }],
    options: {
      agent: { type: 'string', value: 'NAME', description: 'the agent asking (required, except with --audit-log)' },
      call: { type: 'string', value: 'SVC:Op', description: 'a JSON or query API call instead of REQUEST, like iam:AttachRolePolicy' },
      params: { type: 'string', value: 'JSON', description: "the call's parameters, as a JSON object" },
      action: { type: 'string', value: 'ACTION', description: 'an IAM action, with --resource, when no classifier is wanted' },
      resource: { type: 'string', value: 'ARN', description: 'the resource for --action (default *)' },
      'audit-log': { type: 'string', value: 'FILE', description: "replay a request from countersign's JSON log lines (with --request-id)" },
      'request-id': { type: 'string', value: 'ID', description: 'the request to replay from --audit-log' },
      at: { type: 'string', value: 'ISO', description: 'decide as at this time (time-window conditions)' },
      'source-ip': { type: 'string', value: 'IP', description: "the agent's address (sourceIps conditions)" },
      region: { type: 'string', value: 'REGION', description: 'the region signed for (default us-east-1)' },
      dir: { type: 'string', value: 'DIR', description: 'the policy directory, as an option (instead of DIR)' },
      json: { type: 'boolean', description: 'print the explanation as JSON' },
    },
    details: ['For each (action, resource) the request needs: every rule, whether it matched or the first criterion it failed; then the decision with its reason codes.', 'Give the request one way: REQUEST, --call (with --params), --action (with --resource), or --audit-log with --request-id. DIR may come before or after REQUEST.'],
    examples: [
      'countersign policy explain --agent support-bot GET s3://customer-data-eu/accounts.csv',
      'countersign policy explain policies --agent deploy-bot --call iam:AttachRolePolicy --params \'{"RoleName":"app","PolicyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}\'',
      'countersign policy explain --audit-log countersign.log --request-id 3f1c...',
    ],
  },
  reportingLoadErrors((args, io) => {
    const words = explainPositionals(args.positionals);
    const usage = (message: string) => {
      io.err(`countersign policy explain: ${message}`);
      return 2;
    };
    if ('error' in words) return usage(words.error);
    const flagDir = args.string('dir');
    if (words.dir !== undefined && flagDir !== undefined) return usage(`the policy directory is given twice ("${words.dir}" and --dir ${flagDir})`);
    const dir = words.dir ?? flagDir ?? defaultDir(io);
    if (!isDirectory(dir)) return usage(`"${dir}" is not a policy directory${words.dir === undefined ? '' : ' (a request is written as METHOD s3://bucket/key)'}`);
    const auditLog = args.string('audit-log');
    const ways = [words.request, args.string('call'), args.string('action'), auditLog].filter((w) => w !== undefined);
    if (ways.length !== 1) return usage(ways.length === 0 ? 'give the request: REQUEST, --call, --action or --audit-log' : 'give the request one way only: REQUEST, --call, --action or --audit-log');
    const requestId = args.string('request-id') ?? '';
    if (auditLog === undefined && args.string('agent') === undefined) return usage('give the agent with --agent NAME');
    if (auditLog !== undefined && requestId === '') return usage('--audit-log needs --request-id ID');
    const specs = auditLog !== undefined ? fromAuditLog(auditLog, requestId) : [fromFlags(args, words.request)];
    if (specs.length === 0) {
      io.out(`no request ${requestId} with actions in ${auditLog ?? ''}`);
      return 1;
    }
    const policy = compilePolicySet(loadPolicyDir(dir));
    try {
      const explanations = specs.map((spec) => explain(policy, describeRequest(spec)));
      if (args.flag('json')) io.out(JSON.stringify(explanations.length === 1 ? explanations[0] : explanations));
      else for (const explanation of explanations) for (const line of formatExplanation(explanation)) io.out(line);
    } catch (error) {
      if (!isCountersignError(error)) throw error;
      io.out(`refused before any rule: ${error.code}: ${error.message}`);
      return 1;
    }
    return 0;
  }),
);

type ExplainArgs = ParsedArgs<Readonly<Record<'agent' | 'call' | 'params' | 'action' | 'resource' | 'at' | 'source-ip' | 'region', { type: 'string'; description: string }>>>;

function fromFlags(args: ExplainArgs, request: string | undefined): RequestSpec {
  const at = args.string('at');
  const params = args.string('params');
  return {
    agent: args.string('agent') ?? '',
    ...(request !== undefined && { request }),
    ...definedOnly({ call: args.string('call'), action: args.string('action'), resource: args.string('resource'), sourceIp: args.string('source-ip'), region: args.string('region') }),
    ...(params !== undefined && { parameters: JSON.parse(params) as Record<string, unknown> }),
    ...(at !== undefined && { at: new Date(at) }),
  };
}

function definedOnly(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The pairs an audit record shows (its resolved resources), replayed against the current policies. */
function fromAuditLog(file: string, requestId: string): RequestSpec[] {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes(requestId) || !line.startsWith('{')) continue;
    const record = JSON.parse(line) as { requestId?: string; agent?: string; actions?: string[]; resources?: string[]; region?: string; remoteAddress?: string; time?: number };
    if (record.requestId !== requestId || record.agent === undefined || record.actions === undefined) continue;
    return record.actions.map((action, i) => ({
      agent: record.agent ?? '',
      action,
      resource: record.resources?.[i] ?? '*',
      ...definedOnly({ region: record.region, sourceIp: record.remoteAddress }),
      ...(record.time !== undefined && { at: new Date(record.time) }),
    }));
  }
  return [];
}

export const policyCommands: CommandGroup = {
  name: 'policy',
  summary: 'Policy tooling: validate a policy set, run its tests, explain a decision.',
  commands: [check, test, explainCommand],
};
