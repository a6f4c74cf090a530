import { isMap, isScalar, type YAMLMap } from 'yaml';
import type { ApprovalSpec, AwsRuleSpec, CredentialsSpec, HostRuleSpec, RuleSpec } from '../types.js';
import { describe, type Checker } from './checker.js';
import { validateConditions } from './conditions.js';

export const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const AGENT_PATTERN = /^(group:[A-Za-z0-9._-]+|[A-Za-z0-9*?._-]+)$/;
export const ACTION_GLOB = /^(\*|[a-z0-9*?-]+:[A-Za-z0-9*?]+)$/;
export const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const HOST_GLOB = /^[a-z0-9*?.-]{1,253}$/;

export const AWS_RULE_KEYS = ['name', 'description', 'effect', 'agents', 'services', 'actions', 'resources', 'regions', 'accounts', 'conditions', 'credentials', 'approval'];
export const HOST_RULE_KEYS = ['name', 'description', 'effect', 'hosts', 'ports', 'methods', 'paths'];
export const CREDENTIALS_KEYS = ['roleArn', 'sessionDuration', 'sessionPolicyConditions', 'sessionTags'];
export const APPROVAL_KEYS = ['reviewers', 'groups', 'quorum', 'pendingTimeout', 'holdTimeout', 'maxUses', 'maxWindow'];

export const APPROVAL_DEFAULTS = { quorum: 1, pendingTimeoutSeconds: 15 * 60, holdTimeoutSeconds: 55, maxUses: 1 } as const;

export function validateRule(check: Checker, node: unknown): RuleSpec | undefined {
  const isHostRule = isMap(node) && node.has('hosts');
  const rule = check.map(node, isHostRule ? 'a host rule' : 'a rule', isHostRule ? HOST_RULE_KEYS : AWS_RULE_KEYS);
  if (rule === undefined) return undefined;
  const before = check.issueCount;
  const name = check.required(rule, 'name', 'a rule', check.string(rule, 'name', 'rule', RULE_NAME, 'letters, digits, ".", "_" or "-"'));
  const what = `rule "${name ?? '?'}"`;
  const effects = isHostRule ? /^(allow|deny)$/ : /^(allow|deny|approve)$/;
  const effect = check.required(rule, 'effect', what, check.string(rule, 'effect', what, effects, isHostRule ? '"allow" or "deny"' : '"allow", "deny" or "approve"'));
  const description = check.string(rule, 'description', what);
  const source = check.where(rule);
  const common = { name: name ?? '', source, ...(description !== undefined && { description }) };
  const spec = isHostRule ? hostRule(check, rule, what, common, effect) : awsRule(check, rule, what, common, effect);
  return name === undefined || effect === undefined || check.issueCount > before ? undefined : spec;
}

type Common = Pick<AwsRuleSpec, 'name' | 'source' | 'description'>;

function hostRule(check: Checker, rule: YAMLMap, what: string, common: Common, effect: string | undefined): HostRuleSpec | undefined {
  const hosts = check.list(rule, 'hosts', what, check.stringItem('hosts', HOST_GLOB, 'a host name or glob (lower-case)'));
  const ports = check.list(rule, 'ports', what, (n) =>
    isScalar(n) && Number.isInteger(n.value) && (n.value as number) >= 1 && (n.value as number) <= 65535
      ? (n.value as number)
      : check.fail(n, `found ${describe(n)} in ports, expected a port number 1-65535`),
  );
  const methods = check.list(rule, 'methods', what, check.stringItem('methods', /^[A-Z]{3,10}$/, 'an HTTP method in capitals, like GET'));
  const paths = check.list(rule, 'paths', what, check.stringItem('paths', /^[/*][\x21-\x7e]*$/, 'a path glob starting with / (or *)'));
  if (hosts === undefined) return undefined;
  return {
    kind: 'host',
    ...common,
    effect: effect as 'allow' | 'deny',
    hosts,
    ports: ports ?? [443],
    ...(methods !== undefined && { methods }),
    ...(paths !== undefined && { paths }),
  };
}

function awsRule(check: Checker, rule: YAMLMap, what: string, common: Common, effect: string | undefined): AwsRuleSpec | undefined {
  const agents = check.required(rule, 'agents', what, check.list(rule, 'agents', what, check.stringItem('agents', AGENT_PATTERN, 'an agent name, glob, or group:NAME')));
  for (const agent of agents ?? []) {
    if (agent.startsWith('group:')) check.refer('group', agent.slice('group:'.length), rule.get('agents', true));
  }
  const services = check.list(rule, 'services', what, check.stringItem('services', /^[a-z0-9*?-]+$/, 'a service prefix like "s3" (glob allowed)'));
  const actions = check.required(rule, 'actions', what, check.list(rule, 'actions', what, check.stringItem('actions', ACTION_GLOB, 'an IAM action glob like "s3:Get*"')));
  const resources = check.required(rule, 'resources', what, check.list(rule, 'resources', what, check.stringItem('resources', /^(\*|arn:.+)$/, 'an ARN glob or "*"')));
  const regions = check.list(rule, 'regions', what, check.stringItem('regions', /^[a-z0-9*?-]+$/, 'a region like "eu-west-1" (glob allowed)'));
  const accounts = check.list(rule, 'accounts', what, check.stringItem('accounts', /^(\d{12}|[\d*?]{1,12})$/, 'a 12-digit account id (glob allowed)'));
  const conditions = validateConditions(check, rule, what);
  const credentials = validateCredentials(check, rule, what);
  const approval = validateApproval(check, rule, what);
  if ((effect === 'allow' || effect === 'approve') && !rule.has('credentials')) {
    check.fail(rule, `${what} can let calls through but has no "credentials", expected credentials.roleArn (the role to assume)`);
  }
  if (effect === 'deny' && rule.has('credentials')) check.fail(rule.get('credentials', true), `${what} denies, so "credentials" would never be used; remove it`);
  if (effect === 'approve' && !rule.has('approval')) check.fail(rule, `${what} needs approval but has no "approval", expected approval.reviewers or approval.groups`);
  if (effect !== 'approve' && rule.has('approval')) check.fail(rule.get('approval', true), `${what} has effect "${effect ?? '?'}", so "approval" would never be used; use effect: approve`);
  if (agents === undefined || actions === undefined || resources === undefined) return undefined;
  return {
    kind: 'aws',
    ...common,
    effect: effect as AwsRuleSpec['effect'],
    agents,
    actions,
    resources,
    ...(services !== undefined && { services }),
    ...(regions !== undefined && { regions }),
    ...(accounts !== undefined && { accounts }),
    ...(conditions !== undefined && { conditions }),
    ...(credentials !== undefined && { credentials }),
    ...(approval !== undefined && { approval }),
  };
}

function validateCredentials(check: Checker, rule: YAMLMap, what: string): CredentialsSpec | undefined {
  if (!rule.has('credentials')) return undefined;
  const node = check.map(rule.get('credentials', true), `${what} credentials`, CREDENTIALS_KEYS);
  if (node === undefined) return undefined;
  const roleArn = check.required(node, 'roleArn', `${what} credentials`, check.string(node, 'roleArn', `${what}.credentials`, ROLE_ARN, 'an IAM role ARN (arn:aws:iam::123456789012:role/NAME)'));
  const sessionDurationSeconds = check.duration(node, 'sessionDuration', `${what}.credentials`, 900, 43200) ?? 900;
  const conditions = sessionPolicyConditions(check, node.get('sessionPolicyConditions', true), what);
  const tags = sessionTags(check, node.get('sessionTags', true), what);
  if (roleArn === undefined) return undefined;
  return {
    roleArn,
    sessionDurationSeconds,
    ...(conditions !== undefined && { sessionPolicyConditions: conditions }),
    ...(tags !== undefined && { sessionTags: tags }),
  };
}

/** An IAM Condition block: `{ StringEquals: { "aws:SourceVpce": "vpce-1" } }`. */
function sessionPolicyConditions(check: Checker, node: unknown, what: string): CredentialsSpec['sessionPolicyConditions'] {
  if (node === undefined) return undefined;
  const value: unknown = isMap(node) ? node.toJSON() : undefined;
  const valid =
    value !== null && typeof value === 'object' && Object.keys(value).length > 0 &&
    Object.entries(value).every(([operator, keys]) =>
      /^[A-Za-z:]+$/.test(operator) && keys !== null && typeof keys === 'object' && !Array.isArray(keys) &&
      Object.values(keys as object).every((v) => typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))),
    );
  if (!valid) return check.fail(node, `found ${describe(node)} for ${what}.credentials.sessionPolicyConditions, expected an IAM Condition block (operator: {key: value or [values]})`);
  return value as CredentialsSpec['sessionPolicyConditions'];
}

/** STS session tags: at most 50, keys up to 128 and values up to 256 characters. */
function sessionTags(check: Checker, node: unknown, what: string): Record<string, string> | undefined {
  if (node === undefined) return undefined;
  const value: unknown = isMap(node) ? node.toJSON() : undefined;
  const entries = value !== null && typeof value === 'object' ? Object.entries(value) : [];
  const valid =
    entries.length > 0 && entries.length <= 50 &&
    entries.every(([k, v]) => /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u.test(k) && typeof v === 'string' && v.length <= 256);
  if (!valid) return check.fail(node, `found ${describe(node)} for ${what}.credentials.sessionTags, expected up to 50 tags (key: string value)`);
  return Object.fromEntries(entries);
}

function validateApproval(check: Checker, rule: YAMLMap, what: string): ApprovalSpec | undefined {
  if (!rule.has('approval')) return undefined;
  const node = check.map(rule.get('approval', true), `${what} approval`, APPROVAL_KEYS);
  if (node === undefined) return undefined;
  const reviewers = check.list(node, 'reviewers', `${what}.approval`, check.stringItem('reviewers', /^[A-Za-z0-9._@-]+$/, 'a reviewer id'));
  const groups = check.list(node, 'groups', `${what}.approval`, check.stringItem('groups', /^[A-Za-z0-9._-]+$/, 'a group name'));
  for (const id of reviewers ?? []) check.refer('reviewer', id, node.get('reviewers', true));
  for (const group of groups ?? []) check.refer('group', group, node.get('groups', true));
  if (reviewers === undefined && groups === undefined) check.fail(node, `${what} approval names no one, expected approval.reviewers or approval.groups`);
  const quorum = check.integer(node, 'quorum', `${what}.approval`, 1, 10) ?? APPROVAL_DEFAULTS.quorum;
  const pendingTimeoutSeconds = check.duration(node, 'pendingTimeout', `${what}.approval`, 60, 7 * 24 * 3600) ?? APPROVAL_DEFAULTS.pendingTimeoutSeconds;
  const holdTimeoutSeconds = check.duration(node, 'holdTimeout', `${what}.approval`, 0, 600) ?? APPROVAL_DEFAULTS.holdTimeoutSeconds;
  const maxUses = check.integer(node, 'maxUses', `${what}.approval`, 1, 1000) ?? APPROVAL_DEFAULTS.maxUses;
  // Approve for a while: the longest a reviewer may approve the same binding for, in whole minutes
  // (1m..24h). No default: a rule without it only ever offers "approve once".
  const maxWindowSeconds = check.duration(node, 'maxWindow', `${what}.approval`, 60, 24 * 3600);
  if (maxWindowSeconds !== undefined && maxWindowSeconds % 60 !== 0) check.fail(node.get('maxWindow', true), `${what}.approval.maxWindow is a whole number of minutes, like 30m or 2h`);
  return { reviewers: reviewers ?? [], groups: groups ?? [], quorum, pendingTimeoutSeconds, holdTimeoutSeconds, maxUses, ...(maxWindowSeconds !== undefined && { maxWindowSeconds }) };
}

