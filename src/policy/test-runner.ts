import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isMap, isSeq, LineCounter, parseAllDocuments, type YAMLMap } from 'yaml';
import { isCountersignError } from '../errors.js';
import type { CompiledPolicySet } from './compile.js';
import { decide } from './evaluate.js';
import { isEmptyDocument } from './load.js';
import { describeRequest, type RequestSpec } from './request-spec.js';
import { Checker, type Issue } from './schema/checker.js';
import { POLICY_API_VERSION, POLICY_TEST_KIND, type SourceLocation } from './types.js';

/**
 * Policy tests as data, like `opa test`: `*.test.yaml` files of cases, each a written request
 * and the decision it must get.
 *
 *   apiVersion: countersign.dev/v1alpha1
 *   kind: PolicyTest
 *   cases:
 *     - name: reporting agents read reports
 *       agent: report-bot
 *       request: GET s3://reports/2026/q3.csv
 *       expect: { effect: allow, rule: read-reports }
 */
export interface PolicyTestCase {
  readonly name: string;
  readonly spec: RequestSpec;
  readonly expect: { readonly effect: string; readonly rule?: string; readonly reasons?: readonly string[] };
  readonly source: SourceLocation;
}

export interface CaseResult {
  readonly testCase: PolicyTestCase;
  readonly passed: boolean;
  /** What was decided, or why the case could not run. */
  readonly got: string;
}

const TEST_DOC_KEYS = ['apiVersion', 'kind', 'metadata', 'cases'];
const CASE_KEYS = ['name', 'agent', 'request', 'call', 'action', 'resource', 'parameters', 'region', 'sourceIp', 'at', 'requestBytes', 'expect'];
const EXPECT_KEYS = ['effect', 'rule', 'reasons'];

export function listTestFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => !name.startsWith('.') && /\.test\.ya?ml$/.test(name)).sort().map((name) => join(dir, name));
}

export function parseTestFile(path: string): { cases: PolicyTestCase[]; issues: Issue[] } {
  const file = relative(process.cwd(), path) || path;
  const lineCounter = new LineCounter();
  const issues: Issue[] = [];
  const cases: PolicyTestCase[] = [];
  const check = new Checker((offset) => {
    const pos = lineCounter.linePos(offset);
    return { file, line: pos.line, column: pos.col };
  }, issues);
  for (const document of parseAllDocuments(readFileSync(path, 'utf8'), { lineCounter, uniqueKeys: true })) {
    if (document.errors.length > 0) {
      for (const error of document.errors) check.fail(undefined, `YAML syntax: ${error.message.split('\n')[0] ?? ''}`);
      continue;
    }
    if (isEmptyDocument(document.contents)) continue;
    const doc = check.map(document.contents, 'a policy test document', TEST_DOC_KEYS);
    if (doc === undefined) continue;
    if (check.string(doc, 'apiVersion', 'document') !== POLICY_API_VERSION) check.fail(doc, `expected apiVersion "${POLICY_API_VERSION}"`);
    if (check.string(doc, 'kind', 'document') !== POLICY_TEST_KIND) check.fail(doc, `expected kind "${POLICY_TEST_KIND}"`);
    const list = doc.get('cases', true);
    if (!isSeq(list)) {
      check.fail(list ?? doc, 'expected "cases", a list of test cases');
      continue;
    }
    for (const item of list.items) {
      const parsed = parseCase(check, item);
      if (parsed !== undefined) cases.push(parsed);
    }
  }
  return { cases, issues };
}

function parseCase(check: Checker, node: unknown): PolicyTestCase | undefined {
  const item = check.map(node, 'a test case', CASE_KEYS);
  if (item === undefined) return undefined;
  const before = check.issueCount;
  const name = check.required(item, 'name', 'a test case', check.string(item, 'name', 'case'));
  const what = `case "${name ?? '?'}"`;
  const agent = check.required(item, 'agent', what, check.string(item, 'agent', what));
  const forms = ['request', 'call', 'action'].filter((k) => item.has(k));
  if (forms.length !== 1) check.fail(item, `${what} needs exactly one of request, call or action`);
  const parametersNode = item.get('parameters', true);
  const parameters = parametersNode === undefined ? undefined : isMap(parametersNode) ? (parametersNode.toJSON() as Record<string, unknown>) : check.fail(parametersNode, `${what} parameters must be a mapping`);
  const atText = check.string(item, 'at', what);
  const at = atText === undefined ? undefined : new Date(atText);
  if (at !== undefined && Number.isNaN(at.getTime())) check.fail(item.get('at', true), `${what}: "at" must be an ISO 8601 time`);
  const expect = parseExpect(check, item.get('expect', true), what);
  if (name === undefined || agent === undefined || expect === undefined || check.issueCount > before) return undefined;
  const optional = (key: string) => check.string(item, key, what);
  const requestBytes = check.integer(item, 'requestBytes', what, 0, Number.MAX_SAFE_INTEGER);
  const spec: RequestSpec = {
    agent,
    ...definedEntries({ request: optional('request'), call: optional('call'), action: optional('action'), resource: optional('resource'), region: optional('region'), sourceIp: optional('sourceIp') }),
    ...(parameters !== undefined && { parameters }),
    ...(at !== undefined && { at }),
    ...(requestBytes !== undefined && { requestBytes }),
  };
  return { name, spec, expect, source: check.where(item) };
}

function parseExpect(check: Checker, node: unknown, what: string): PolicyTestCase['expect'] | undefined {
  if (node === undefined) return check.fail(undefined, `${what} has no "expect"`);
  const map: YAMLMap | undefined = check.map(node, `${what} expect`, EXPECT_KEYS);
  if (map === undefined) return undefined;
  const effect = check.required(map, 'effect', `${what} expect`, check.string(map, 'effect', `${what}.expect`, /^(allow|deny|approve)$/, '"allow", "deny" or "approve"'));
  const rule = check.string(map, 'rule', `${what}.expect`);
  const reasons = check.list(map, 'reasons', `${what}.expect`, check.stringItem('reasons', /^[A-Za-z_]+$/, 'a reason code like NO_RULE_MATCHED or an error code like UnclassifiedRequest'));
  if (effect === undefined) return undefined;
  return { effect, ...(rule !== undefined && { rule }), ...(reasons !== undefined && { reasons }) };
}

function definedEntries(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Runs one case: the effect must match, and the rule and reason codes when the case names them. */
export function runCase(policy: CompiledPolicySet, testCase: PolicyTestCase): CaseResult {
  try {
    const decision = decide(policy, describeRequest(testCase.spec));
    const codes = decision.reasons.map((r) => r.code);
    const got = `${decision.effect}${decision.rules.length > 0 ? ` by ${decision.rules.join(', ')}` : ''} [${codes.join(', ')}]`;
    const want = testCase.expect;
    const passed =
      decision.effect === want.effect &&
      (want.rule === undefined || decision.rules.includes(want.rule)) &&
      (want.reasons === undefined || want.reasons.every((code) => codes.includes(code as (typeof codes)[number])));
    return { testCase, passed, got };
  } catch (error) {
    // A request the proxy cannot classify is refused; a case may expect exactly that.
    if (!isCountersignError(error)) return { testCase, passed: false, got: `error ${String(error)}` };
    const want = testCase.expect;
    const passed = want.effect === 'deny' && want.rule === undefined && (want.reasons === undefined || want.reasons.every((code) => code === error.code));
    return { testCase, passed, got: `deny [${error.code}] ${error.message}` };
  }
}
