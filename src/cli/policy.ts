import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isCountersignError } from '../errors.js';
import { checkPolicySet } from '../policy/check.js';
import { compilePolicySet } from '../policy/compile.js';
import { explain, formatExplanation } from '../policy/explain.js';
import { loadPolicyDir, PolicyLoadError } from '../policy/load.js';
import { describeRequest, type RequestSpec } from '../policy/request-spec.js';
import { listTestFiles, parseTestFile, runCase } from '../policy/test-runner.js';

type Out = (line: string) => void;

const USAGE = `usage:
  countersign policy check [DIR] [--strict]      validate; warnings exit 0 (1 with --strict)
  countersign policy test [DIR]                  run DIR/*.test.yaml cases
  countersign policy explain [DIR] --agent NAME (REQUEST | --call SVC:Op --params JSON | --action A --resource ARN | --audit-log FILE --request-id ID)
        [--at ISO-TIME] [--source-ip IP] [--region R]
      REQUEST is written like "GET s3://bucket/key"`;

/** `countersign policy check|test|explain`; returns the exit code (0 ok, 1 failures, 2 usage). */
export async function policyCommand(defaultDir: string, args: readonly string[], out: Out): Promise<number> {
  const [verb, ...rest] = args;
  try {
    switch (verb) {
      case 'check':
        return await check(rest, defaultDir, out);
      case 'test':
        return test(rest, defaultDir, out);
      case 'explain':
        return explainCommand(rest, defaultDir, out);
      default:
        out(USAGE);
        return 2;
    }
  } catch (error) {
    if (error instanceof PolicyLoadError) {
      out(`invalid policy set:\n${error.message}`);
      return 1;
    }
    throw error;
  }
}

async function check(args: readonly string[], defaultDir: string, out: Out): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: { strict: { type: 'boolean' } }, allowPositionals: true });
  const set = loadPolicyDir(positionals[0] ?? defaultDir);
  const warnings = await checkPolicySet(set);
  for (const w of warnings) out(`${w.file}:${w.line}:${w.column}: warning ${w.code}: ${w.message}`);
  out(`ok: ${set.rules.length} rules in ${set.files.length} files, ${warnings.length} warnings (sha256 ${set.hash.slice(0, 16)})`);
  return values.strict === true && warnings.length > 0 ? 1 : 0;
}

function test(args: readonly string[], defaultDir: string, out: Out): number {
  const dir = args[0] ?? defaultDir;
  const policy = compilePolicySet(loadPolicyDir(dir));
  let failed = 0;
  let total = 0;
  for (const file of listTestFiles(dir)) {
    const { cases, issues } = parseTestFile(file);
    for (const issue of issues) out(`${issue.file}:${issue.line}:${issue.column}: ${issue.message}`);
    failed += issues.length;
    for (const testCase of cases) {
      total += 1;
      const result = runCase(policy, testCase);
      if (result.passed) continue;
      failed += 1;
      const want = `${testCase.expect.effect}${testCase.expect.rule === undefined ? '' : ` by ${testCase.expect.rule}`}`;
      out(`FAIL ${testCase.source.file}:${testCase.source.line}: ${testCase.name}: want ${want}, got ${result.got}`);
    }
  }
  out(`${total - Math.min(failed, total)} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

function explainCommand(args: readonly string[], defaultDir: string, out: Out): number {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      agent: { type: 'string' },
      call: { type: 'string' },
      params: { type: 'string' },
      action: { type: 'string' },
      resource: { type: 'string' },
      at: { type: 'string' },
      'source-ip': { type: 'string' },
      region: { type: 'string' },
      'audit-log': { type: 'string' },
      'request-id': { type: 'string' },
      dir: { type: 'string' },
    },
    allowPositionals: true,
  });
  const dir = values.dir ?? defaultDir;
  const policy = compilePolicySet(loadPolicyDir(dir));
  const specs = values['audit-log'] !== undefined ? fromAuditLog(values['audit-log'], values['request-id'] ?? '') : [fromFlags(values, positionals)];
  if (specs.length === 0) {
    out(`no request ${values['request-id'] ?? ''} with actions in ${values['audit-log'] ?? ''}`);
    return 1;
  }
  try {
    for (const spec of specs) for (const line of formatExplanation(explain(policy, describeRequest(spec)))) out(line);
  } catch (error) {
    if (!isCountersignError(error)) throw error;
    out(`refused before any rule: ${error.code}: ${error.message}`);
    return 1;
  }
  return 0;
}

function fromFlags(values: Record<string, string | boolean | undefined>, positionals: string[]): RequestSpec {
  const text = (key: string) => (typeof values[key] === 'string' ? values[key] : undefined);
  const agent = text('agent');
  if (agent === undefined) throw new PolicyLoadError([{ file: 'explain', line: 0, column: 0, message: 'give the agent with --agent NAME' }]);
  const at = text('at');
  const params = text('params');
  return {
    agent,
    ...(positionals[0] !== undefined && { request: positionals.join(' ') }),
    ...definedOnly({ call: text('call'), action: text('action'), resource: text('resource'), sourceIp: text('source-ip'), region: text('region') }),
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
