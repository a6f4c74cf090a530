import { isMap, isScalar, isSeq, type YAMLMap } from 'yaml';
import { DIRECTORY_KIND, POLICY_API_VERSION, POLICY_KIND, POLICY_TEST_KIND, type RuleSpec } from '../types.js';
import { describe, type Checker } from './checker.js';
import { DIRECTORY_KEYS, validateDirectory, type emptyDirectory } from './directory.js';
import { validateRule } from './rule.js';

export const POLICY_DOCUMENT_KEYS = ['apiVersion', 'kind', 'metadata', 'rules'];
export const METADATA_KEYS = ['name', 'description'];
const KINDS = [POLICY_KIND, DIRECTORY_KIND];

/** Validates one YAML document of a policy file (kind Policy or Directory). */
export function validateDocument(check: Checker, contents: unknown, rules: RuleSpec[], directory: ReturnType<typeof emptyDirectory>): void {
  if (!isMap(contents)) {
    check.fail(contents, `found ${describe(contents)}, expected a policy document (a mapping)`);
    return;
  }
  const loose = contents;
  const apiVersion = check.required(loose, 'apiVersion', 'the document', check.string(loose, 'apiVersion', 'document'));
  if (apiVersion !== undefined && apiVersion !== POLICY_API_VERSION) {
    check.fail(loose.get('apiVersion', true), `found apiVersion "${apiVersion}", expected "${POLICY_API_VERSION}"`);
  }
  const kind = check.required(loose, 'kind', 'the document', check.string(loose, 'kind', 'document'));
  if (kind === POLICY_TEST_KIND) {
    check.fail(loose.get('kind', true), `found kind "${kind}" in a policy file, expected policy tests in a file named *.test.yaml`);
    return;
  }
  if (kind !== undefined && !KINDS.includes(kind)) {
    check.fail(loose.get('kind', true), `found kind "${kind}", expected "${POLICY_KIND}" or "${DIRECTORY_KIND}"`);
    return;
  }
  if (loose.has('metadata')) check.map(loose.get('metadata', true), 'metadata', METADATA_KEYS);
  if (kind === DIRECTORY_KIND) {
    rejectKeysOf(check, loose, DIRECTORY_KEYS, 'a Directory document');
    validateDirectory(check, loose, directory);
  } else if (kind === POLICY_KIND) {
    rejectKeysOf(check, loose, POLICY_DOCUMENT_KEYS, 'a Policy document');
    validateRules(check, loose, rules);
  }
}

function rejectKeysOf(check: Checker, doc: YAMLMap, allowed: readonly string[], what: string): void {
  for (const pair of doc.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!allowed.includes(key)) check.fail(pair.key, `found key "${key}" in ${what}, expected one of: ${allowed.join(', ')}`);
  }
}

function validateRules(check: Checker, doc: YAMLMap, rules: RuleSpec[]): void {
  const list = doc.get('rules', true);
  if (list === undefined) {
    check.fail(doc, 'the document has no "rules", expected a list of rules');
    return;
  }
  if (!isSeq(list)) {
    check.fail(list, `found ${describe(list)} for rules, expected a list of rules`);
    return;
  }
  for (const item of list.items) {
    const rule = validateRule(check, item);
    if (rule !== undefined) rules.push(rule);
  }
}
