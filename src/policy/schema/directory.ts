import { isMap, isScalar, type YAMLMap } from 'yaml';
import type { AgentSpec, DirectorySpec, GroupSpec, ReviewerSpec, WorkloadIdentitySpec } from '../types.js';
import { describe, type Checker } from './checker.js';
import { checkIdentities, validateIdentities } from './identities.js';

export const DIRECTORY_KEYS = ['apiVersion', 'kind', 'metadata', 'agents', 'reviewers', 'groups', 'identities'];
export const AGENT_KEYS = ['owners', 'groups'];
export const REVIEWER_KEYS = ['name', 'groups', 'email', 'slack', 'teams'];
export const GROUP_KEYS = ['description'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

interface MutableDirectory {
  agents: AgentSpec[];
  reviewers: ReviewerSpec[];
  groups: GroupSpec[];
  identities: WorkloadIdentitySpec[];
}

export function emptyDirectory(): MutableDirectory {
  return { agents: [], reviewers: [], groups: [], identities: [] };
}

/**
 * A `kind: Directory` document: agents (with owners and groups), reviewers (with their
 * identities in the notification channels) and the groups both refer to.
 */
export function validateDirectory(check: Checker, doc: YAMLMap, into: MutableDirectory): void {
  forEachEntry(check, doc, 'agents', (name, node) => {
    const entry = check.map(node, `agent "${name}"`, AGENT_KEYS);
    if (entry === undefined) return;
    const owners = check.list(entry, 'owners', `agent "${name}"`, check.stringItem('owners', NAME, 'a reviewer id')) ?? [];
    const groups = check.list(entry, 'groups', `agent "${name}"`, check.stringItem('groups', NAME, 'a group name')) ?? [];
    for (const owner of owners) check.refer('reviewer', owner, entry.get('owners', true));
    for (const group of groups) check.refer('group', group, entry.get('groups', true));
    into.agents.push({ name, owners, groups, source: check.where(node as YAMLMap) });
  });
  forEachEntry(check, doc, 'reviewers', (id, node) => {
    const entry = check.map(node, `reviewer "${id}"`, REVIEWER_KEYS);
    if (entry === undefined) return;
    const what = `reviewer "${id}"`;
    const groups = check.list(entry, 'groups', what, check.stringItem('groups', NAME, 'a group name')) ?? [];
    for (const group of groups) check.refer('group', group, entry.get('groups', true));
    const email = check.string(entry, 'email', what, /^[^\s@]+@[^\s@]+$/, 'an email address');
    const slackUserId = check.string(entry, 'slack', what, /^[UW][A-Z0-9]{2,20}$/, 'a Slack user id like U012AB3CD');
    const teamsUserId = check.string(entry, 'teams', what);
    into.reviewers.push({
      id,
      displayName: check.string(entry, 'name', what) ?? id,
      groups,
      source: check.where(node as YAMLMap),
      ...(email !== undefined && { email }),
      ...(slackUserId !== undefined && { slackUserId }),
      ...(teamsUserId !== undefined && { teamsUserId }),
    });
  });
  forEachEntry(check, doc, 'groups', (name, node) => {
    const entry = node === null || (isScalar(node) && node.value === null) ? undefined : check.map(node, `group "${name}"`, GROUP_KEYS);
    const description = entry === undefined ? undefined : check.string(entry, 'description', `group "${name}"`);
    into.groups.push({ name, source: check.where(node as YAMLMap), ...(description !== undefined && { description }) });
  });
  validateIdentities(check, doc, into.identities);
}

function forEachEntry(check: Checker, doc: YAMLMap, key: string, visit: (name: string, node: unknown) => void): void {
  const section = doc.get(key, true);
  if (section === undefined) return;
  if (!isMap(section)) {
    check.fail(section, `found ${describe(section)} for ${key}, expected a mapping of name to details`);
    return;
  }
  for (const pair of section.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!NAME.test(name)) {
      check.fail(pair.key, `found "${name}" as a name in ${key}, expected letters, digits, ".", "_", "@" or "-"`);
      continue;
    }
    visit(name, pair.value);
  }
}

/** Checks that every referenced group and reviewer is declared, and nothing is declared twice. */
export function checkDirectory(directory: DirectorySpec, references: readonly { kind: 'group' | 'reviewer'; name: string; at: { file: string; line: number; column: number } }[]) {
  const issues: Array<{ file: string; line: number; column: number; message: string }> = [];
  const groups = new Set(directory.groups.map((g) => g.name));
  const reviewers = new Set(directory.reviewers.map((r) => r.id));
  for (const ref of references) {
    const known = ref.kind === 'group' ? groups : reviewers;
    if (!known.has(ref.name)) {
      const declared = [...known].sort().join(', ') || 'none';
      issues.push({ ...ref.at, message: `found unknown ${ref.kind} "${ref.name}", expected a declared ${ref.kind} (declared: ${declared})` });
    }
  }
  issues.push(...checkIdentities(directory.identities ?? [], new Set(directory.agents.map((a) => a.name))));
  for (const [kind, entries] of [
    ['agent', directory.agents.map((a) => ({ name: a.name, source: a.source }))],
    ['reviewer', directory.reviewers.map((r) => ({ name: r.id, source: r.source }))],
    ['group', directory.groups],
  ] as const) {
    const seen = new Set<string>();
    for (const entry of entries) {
      if (seen.has(entry.name)) issues.push({ ...entry.source, message: `found a second ${kind} named "${entry.name}", expected each ${kind} declared once` });
      seen.add(entry.name);
    }
  }
  return issues;
}
