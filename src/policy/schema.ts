import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import { POLICY_API_VERSION, POLICY_KIND, type CredentialsSpec, type RuleSpec, type SourceLocation } from './types.js';

/**
 * The policy schema, checked on the YAML syntax tree so every problem has a line and column.
 * Unknown keys are errors: a misspelt `resouces:` must not silently widen a rule.
 */

export interface Issue extends SourceLocation {
  readonly message: string;
}

type At = (offset: number) => SourceLocation;

const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ACTION_GLOB = /^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const HOST_GLOB = /^[a-z0-9*?.-]{1,253}$/;

const DOCUMENT_KEYS = ['apiVersion', 'kind', 'metadata', 'rules'];
const METADATA_KEYS = ['name', 'description'];
const AWS_RULE_KEYS = ['name', 'description', 'effect', 'agents', 'actions', 'resources', 'credentials'];
const HOST_RULE_KEYS = ['name', 'description', 'effect', 'hosts', 'ports'];
const CREDENTIALS_KEYS = ['roleArn', 'sessionDuration'];

class Checker {
  constructor(
    private readonly at: At,
    private readonly issues: Issue[],
  ) {}

  get issueCount(): number {
    return this.issues.length;
  }

  where(node: Node | Pair | null | undefined): SourceLocation {
    const range = node && 'range' in node ? node.range : node && 'key' in node && isScalar(node.key) ? node.key.range : undefined;
    return this.at(range?.[0] ?? 0);
  }

  fail(node: Node | Pair | null | undefined, message: string): undefined {
    this.issues.push({ ...this.where(node), message });
    return undefined;
  }

  map(node: unknown, what: string, keys: readonly string[]): YAMLMap | undefined {
    if (!isMap(node)) return this.fail(node as Node, `found ${describe(node)}, expected ${what} (a mapping)`);
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined || !keys.includes(key)) {
        this.fail(pair.key as Node, `found unknown key "${key ?? '?'}" in ${what}, expected one of: ${keys.join(', ')}`);
      }
    }
    return node;
  }

  string(map: YAMLMap, key: string, what: string, pattern?: RegExp, expected?: string): string | undefined {
    const node = map.get(key, true);
    if (node === undefined) return undefined;
    if (!isScalar(node) || typeof node.value !== 'string' || node.value === '') {
      return this.fail(node, `found ${describe(node)} for ${what}.${key}, expected a non-empty string`);
    }
    if (pattern !== undefined && !pattern.test(node.value)) {
      return this.fail(node, `found "${node.value}" for ${what}.${key}, expected ${expected ?? pattern.source}`);
    }
    return node.value;
  }

  required<T>(map: YAMLMap, key: string, what: string, value: T | undefined): T | undefined {
    if (value === undefined && !map.has(key)) this.fail(map, `${what} has no "${key}", expected one`);
    return value;
  }

  list<T>(map: YAMLMap, key: string, what: string, item: (node: Node) => T | undefined): T[] | undefined {
    const node = map.get(key, true);
    if (node === undefined) return undefined;
    if (!isSeq(node) || node.items.length === 0) return this.fail(node, `found ${describe(node)} for ${what}.${key}, expected a non-empty list`);
    const values: T[] = [];
    for (const element of node.items) {
      const value = item(element as Node);
      if (value !== undefined) values.push(value);
    }
    return values.length === node.items.length ? values : undefined;
  }

  stringItem(what: string, pattern: RegExp, expected: string) {
    return (node: Node): string | undefined => {
      if (!isScalar(node) || typeof node.value !== 'string' || !pattern.test(node.value)) {
        return this.fail(node, `found ${describe(node)} in ${what}, expected ${expected}`);
      }
      return node.value;
    };
  }
}

function describe(node: unknown): string {
  if (node === undefined || node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return typeof node.value === 'string' ? `"${node.value.slice(0, 80)}"` : `${typeof node.value} ${String(node.value)}`;
  return 'an unexpected value';
}

export function validateDocument(contents: unknown, at: At, rules: RuleSpec[], issues: Issue[]): void {
  const check = new Checker(at, issues);
  const doc = check.map(contents, 'a policy document', DOCUMENT_KEYS);
  if (doc === undefined) return;
  const apiVersion = check.required(doc, 'apiVersion', 'the document', check.string(doc, 'apiVersion', 'document'));
  if (apiVersion !== undefined && apiVersion !== POLICY_API_VERSION) {
    check.fail(doc.get('apiVersion', true), `found apiVersion "${apiVersion}", expected "${POLICY_API_VERSION}"`);
  }
  const kind = check.required(doc, 'kind', 'the document', check.string(doc, 'kind', 'document'));
  if (kind !== undefined && kind !== POLICY_KIND) check.fail(doc.get('kind', true), `found kind "${kind}", expected "${POLICY_KIND}"`);
  if (doc.has('metadata')) check.map(doc.get('metadata', true), 'metadata', METADATA_KEYS);
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

function validateRule(check: Checker, node: unknown): RuleSpec | undefined {
  const isHostRule = isMap(node) && node.has('hosts');
  const rule = check.map(node, isHostRule ? 'a host rule' : 'a rule', isHostRule ? HOST_RULE_KEYS : AWS_RULE_KEYS);
  if (rule === undefined) return undefined;
  const issuesBefore = check.issueCount;
  const name = check.required(rule, 'name', 'a rule', check.string(rule, 'name', 'rule', RULE_NAME, 'letters, digits, ".", "_" or "-"'));
  const what = `rule "${name ?? '?'}"`;
  const effect = check.required(rule, 'effect', what, check.string(rule, 'effect', what, /^(allow|deny)$/, '"allow" or "deny"'));
  const description = check.string(rule, 'description', what);
  const source = check.where(rule);
  if (isHostRule) {
    const hosts = check.list(rule, 'hosts', what, check.stringItem('hosts', HOST_GLOB, 'a host name or glob (lower-case)'));
    const ports = check.list(rule, 'ports', what, (n) =>
      isScalar(n) && Number.isInteger(n.value) && (n.value as number) >= 1 && (n.value as number) <= 65535
        ? (n.value as number)
        : check.fail(n, `found ${describe(n)} in ports, expected a port number 1-65535`),
    );
    if (name === undefined || effect === undefined || hosts === undefined || check.issueCount > issuesBefore) return undefined;
    return { kind: 'host', name, effect: effect as 'allow' | 'deny', hosts, ports: ports ?? [443], source, ...(description !== undefined && { description }) };
  }
  const agents = check.required(rule, 'agents', what, check.list(rule, 'agents', what, check.stringItem('agents', /^[A-Za-z0-9*?._-]+$/, 'an agent name or glob')));
  const actions = check.required(rule, 'actions', what, check.list(rule, 'actions', what, check.stringItem('actions', ACTION_GLOB, 'an IAM action glob like "s3:Get*"')));
  const resources = check.required(rule, 'resources', what, check.list(rule, 'resources', what, check.stringItem('resources', /^(\*|arn:.+)$/, 'an ARN glob or "*"')));
  const credentials = validateCredentials(check, rule, what);
  if (effect === 'allow' && !rule.has('credentials')) check.fail(rule, `${what} allows but has no "credentials", expected credentials.roleArn (the role to assume)`);
  if (effect === 'deny' && rule.has('credentials')) check.fail(rule.get('credentials', true), `${what} denies, so "credentials" would never be used; remove it`);
  if (name === undefined || effect === undefined || agents === undefined || actions === undefined || resources === undefined) return undefined;
  if (check.issueCount > issuesBefore) return undefined;
  return {
    kind: 'aws',
    name,
    effect: effect as 'allow' | 'deny',
    agents,
    actions,
    resources,
    source,
    ...(description !== undefined && { description }),
    ...(credentials !== undefined && { credentials }),
  };
}

function validateCredentials(check: Checker, rule: YAMLMap, what: string): CredentialsSpec | undefined {
  if (!rule.has('credentials')) return undefined;
  const node = check.map(rule.get('credentials', true), `${what} credentials`, CREDENTIALS_KEYS);
  if (node === undefined) return undefined;
  const roleArn = check.required(node, 'roleArn', `${what} credentials`, check.string(node, 'roleArn', `${what}.credentials`, ROLE_ARN, 'an IAM role ARN (arn:aws:iam::123456789012:role/NAME)'));
  const duration = node.get('sessionDuration', true);
  let sessionDurationSeconds = 900;
  if (duration !== undefined) {
    if (!isScalar(duration) || !Number.isInteger(duration.value) || (duration.value as number) < 900 || (duration.value as number) > 43200) {
      check.fail(duration, `found ${describe(duration)} for sessionDuration, expected whole seconds from 900 to 43200`);
    } else {
      sessionDurationSeconds = duration.value as number;
    }
  }
  return roleArn === undefined ? undefined : { roleArn, sessionDurationSeconds };
}

