import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { listPolicyFiles, loadPolicyDir, parsePolicyText, PolicyLoadError } from '../../src/policy/load.js';
import type { Issue } from '../../src/policy/load.js';

const HEADER = 'apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules:\n';

const ALLOW_RULE = [
  '  - name: read-reports',
  '    effect: allow',
  '    agents: ["report-*"]',
  '    actions: ["s3:GetObject"]',
  '    resources: ["arn:aws:s3:::reports/*"]',
  '    credentials:',
  '      roleArn: arn:aws:iam::123456789012:role/reader',
].join('\n');

function issues(text: string): Issue[] {
  return parsePolicyText(text, 'p.yaml').issues;
}

function issueLines(text: string): string[] {
  return issues(text).map((i) => `${i.file}:${i.line}:${i.column}: ${i.message}`);
}

const dirs: string[] = [];
function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-policy-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function loadError(dir: string): PolicyLoadError {
  try {
    loadPolicyDir(dir);
  } catch (error) {
    if (error instanceof PolicyLoadError) return error;
    throw error;
  }
  throw new Error('expected loadPolicyDir to fail');
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('parsePolicyText: valid documents', () => {
  it('reads an allow rule with its source location and the default session duration', () => {
    const { rules, issues: found } = parsePolicyText(HEADER + ALLOW_RULE + '\n', 'p.yaml');
    expect(found).toEqual([]);
    expect(rules).toEqual([
      {
        kind: 'aws',
        name: 'read-reports',
        effect: 'allow',
        agents: ['report-*'],
        actions: ['s3:GetObject'],
        resources: ['arn:aws:s3:::reports/*'],
        credentials: { roleArn: 'arn:aws:iam::123456789012:role/reader', sessionDurationSeconds: 900 },
        source: { file: 'p.yaml', line: 4, column: 5 },
      },
    ]);
  });

  it('reads a deny rule with a description and metadata', () => {
    const text = [
      'apiVersion: countersign.dev/v1alpha1',
      'kind: Policy',
      'metadata:',
      '  name: fences',
      '  description: the fences',
      'rules:',
      '  - name: no-deletes',
      '    description: nobody deletes',
      '    effect: deny',
      '    agents: ["*"]',
      '    actions: ["s3:Delete*"]',
      '    resources: ["*"]',
    ].join('\n');
    const { rules, issues: found } = parsePolicyText(text, 'f.yaml');
    expect(found).toEqual([]);
    expect(rules).toEqual([
      {
        kind: 'aws',
        name: 'no-deletes',
        description: 'nobody deletes',
        effect: 'deny',
        agents: ['*'],
        actions: ['s3:Delete*'],
        resources: ['*'],
        source: { file: 'f.yaml', line: 7, column: 5 },
      },
    ]);
  });

  it('accepts sessionDuration from 900 to 43200 seconds, as a number or a duration', () => {
    for (const [value, seconds] of [
      ['900', 900],
      ['3600', 3600],
      ['43200', 43200],
      ['"15m"', 900],
      ['"2h"', 7200],
      ['"1000s"', 1000],
    ] as const) {
      const { rules, issues: found } = parsePolicyText(HEADER + ALLOW_RULE + `\n      sessionDuration: ${value}\n`, 'p.yaml');
      expect(found).toEqual([]);
      const rule = rules[0];
      expect(rule?.kind === 'aws' && rule.credentials?.sessionDurationSeconds, value).toBe(seconds);
    }
  });

  it('reads host rules, with ports defaulting to [443]', () => {
    const text =
      HEADER +
      [
        '  - name: registry',
        '    effect: allow',
        '    hosts: ["registry.npmjs.org", "*.pythonhosted.org"]',
        '  - name: no-internal',
        '    effect: deny',
        '    hosts: ["*.internal"]',
        '    ports: [80, 8443]',
      ].join('\n');
    const { rules, issues: found } = parsePolicyText(text, 'h.yaml');
    expect(found).toEqual([]);
    expect(rules).toEqual([
      { kind: 'host', name: 'registry', effect: 'allow', hosts: ['registry.npmjs.org', '*.pythonhosted.org'], ports: [443], source: { file: 'h.yaml', line: 4, column: 5 } },
      { kind: 'host', name: 'no-internal', effect: 'deny', hosts: ['*.internal'], ports: [80, 8443], source: { file: 'h.yaml', line: 7, column: 5 } },
    ]);
  });

  it('reads several documents in one file', () => {
    const second = ALLOW_RULE.replace('read-reports', 'second');
    const text = `${HEADER}${ALLOW_RULE}\n---\n${HEADER}${second}\n`;
    const { rules, issues: found } = parsePolicyText(text, 'p.yaml');
    expect(found).toEqual([]);
    expect(rules.map((r) => [r.name, r.source.line])).toEqual([
      ['read-reports', 4],
      ['second', 15],
    ]);
  });

  // load.ts skips "an empty document (e.g. a trailing ---)", but the yaml library gives such a
  // document a null Scalar as contents, not null, so it is reported as "found object null".
  it('skips an empty document after a trailing ---', () => {
    expect(parsePolicyText(`${HEADER}${ALLOW_RULE}\n---\n`, 'p.yaml')).toMatchObject({ issues: [], rules: [{ name: 'read-reports' }] });
    expect(parsePolicyText('---\n', 'p.yaml')).toMatchObject({ rules: [], issues: [] });
  });

  it('treats a comment-only file as no rules and no issues', () => {
    for (const text of ['# nothing here\n', '']) {
      const parsed = parsePolicyText(text, 'c.yaml');
      expect(parsed.rules).toEqual([]);
      expect(parsed.issues).toEqual([]);
    }
  });
});

describe('parsePolicyText: errors name file:line:column and what was expected', () => {
  it('refuses an unknown key such as a misspelt resources', () => {
    const text = HEADER + ALLOW_RULE.replace('resources:', 'resouces:');
    expect(issueLines(text)).toEqual([
      'p.yaml:8:5: found unknown key "resouces" in a rule, expected one of: name, description, effect, agents, services, actions, resources, regions, accounts, conditions, credentials, approval',
      'p.yaml:4:5: rule "read-reports" has no "resources", expected one',
    ]);
    expect(parsePolicyText(text, 'p.yaml').rules).toEqual([]);
  });

  // The document is first checked against the keys of every kind, then against those of its
  // kind, so an unknown top-level key is reported twice at the same place.
  it('refuses an unknown top-level, metadata and credentials key, once each', () => {
    const text = [
      'apiVersion: countersign.dev/v1alpha1',
      'kind: Policy',
      'metadata:',
      '  nmae: x',
      'rule: []',
      'rules:',
      ALLOW_RULE,
      '      externalId: nope',
    ].join('\n');
    const found = issueLines(text);
    expect(found.filter((line) => !line.startsWith('p.yaml:5:'))).toEqual([
      'p.yaml:4:3: found unknown key "nmae" in metadata, expected one of: name, description',
      'p.yaml:14:7: found unknown key "externalId" in rule "read-reports" credentials, expected one of: roleArn, sessionDuration, sessionPolicyConditions, sessionTags',
    ]);
    const atRule = found.filter((line) => line.startsWith('p.yaml:5:'));
    expect(atRule).toHaveLength(1);
    expect(atRule[0]).toMatch(/^p\.yaml:5:1: found (unknown )?key "rule" in a (p|P)olicy document, expected one of: apiVersion, kind, metadata, rules/);
  });

  it('refuses a wrong apiVersion', () => {
    const text = HEADER.replace('countersign.dev/v1alpha1', 'countersign.dev/v2') + ALLOW_RULE;
    expect(issueLines(text)).toEqual(['p.yaml:1:13: found apiVersion "countersign.dev/v2", expected "countersign.dev/v1alpha1"']);
  });

  it('refuses a missing apiVersion and a missing kind', () => {
    expect(issueLines(HEADER.replace('kind: Policy\n', '') + ALLOW_RULE)).toEqual(['p.yaml:1:1: the document has no "kind", expected one']);
    expect(issueLines(HEADER.replace('apiVersion: countersign.dev/v1alpha1\n', '') + ALLOW_RULE)).toEqual([
      'p.yaml:1:1: the document has no "apiVersion", expected one',
    ]);
  });

  it('refuses a wrong kind', () => {
    expect(issueLines(HEADER.replace('kind: Policy', 'kind: Rules') + ALLOW_RULE)).toEqual(['p.yaml:2:7: found kind "Rules", expected "Policy" or "Directory"']);
  });

  it('refuses a document without rules, or whose rules are not a list', () => {
    expect(issueLines('apiVersion: countersign.dev/v1alpha1\nkind: Policy\n')).toEqual([
      'p.yaml:1:1: the document has no "rules", expected a list of rules',
    ]);
    expect(issueLines('apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules: everything\n')).toEqual([
      'p.yaml:3:8: found "everything" for rules, expected a list of rules',
    ]);
  });

  it('refuses a document that is not a mapping', () => {
    expect(issueLines('- a\n- b\n')).toEqual(['p.yaml:1:1: found a list, expected a policy document (a mapping)']);
  });

  it('refuses an effect other than allow, deny or approve', () => {
    expect(issueLines(HEADER + ALLOW_RULE.replace('effect: allow', 'effect: permit'))).toEqual([
      'p.yaml:5:13: found "permit" for rule "read-reports".effect, expected "allow", "deny" or "approve"',
    ]);
  });

  it('refuses a rule without an effect or a name', () => {
    expect(issueLines(HEADER + ALLOW_RULE.replace('    effect: allow\n', ''))).toEqual([
      'p.yaml:4:5: rule "read-reports" has no "effect", expected one',
    ]);
    expect(issueLines(HEADER + ALLOW_RULE.replace('  - name: read-reports\n    effect', '  - effect'))).toEqual([
      'p.yaml:4:5: a rule has no "name", expected one',
    ]);
  });

  it('refuses a rule name with characters outside the allowed set', () => {
    expect(issueLines(HEADER + ALLOW_RULE.replace('name: read-reports', 'name: read reports'))).toEqual([
      'p.yaml:4:11: found "read reports" for rule.name, expected letters, digits, ".", "_" or "-"',
    ]);
  });

  it('refuses an allow rule without credentials', () => {
    const text = HEADER + ALLOW_RULE.split('\n').slice(0, 5).join('\n');
    expect(issueLines(text)).toEqual([
      'p.yaml:4:5: rule "read-reports" can let calls through but has no "credentials", expected credentials.roleArn (the role to assume)',
    ]);
  });

  it('refuses a deny rule with credentials', () => {
    expect(issueLines(HEADER + ALLOW_RULE.replace('effect: allow', 'effect: deny'))).toEqual([
      'p.yaml:10:7: rule "read-reports" denies, so "credentials" would never be used; remove it',
    ]);
  });

  it('refuses a role ARN that is not an IAM role ARN', () => {
    for (const bad of ['arn:aws:iam::12345:role/reader', 'arn:aws:iam::123456789012:user/reader', 'arn:aws:sts::123456789012:role/reader']) {
      expect(issueLines(HEADER + ALLOW_RULE.replace('arn:aws:iam::123456789012:role/reader', bad))).toEqual([
        `p.yaml:10:16: found "${bad}" for rule "read-reports".credentials.roleArn, expected an IAM role ARN (arn:aws:iam::123456789012:role/NAME)`,
      ]);
    }
  });

  it('refuses credentials without a roleArn', () => {
    expect(issueLines(HEADER + ALLOW_RULE.replace('roleArn: arn:aws:iam::123456789012:role/reader', 'sessionDuration: 900'))).toEqual([
      'p.yaml:10:7: rule "read-reports" credentials has no "roleArn", expected one',
    ]);
  });

  it('refuses a sessionDuration outside 900..43200 seconds or not a duration', () => {
    for (const [value, shown] of [
      ['899', 'number 899'],
      ['43201', 'number 43201'],
      ['900.5', 'number 900.5'],
      ['"3600"', '"3600"'],
      ['"14m"', '"14m"'],
      ['"13h"', '"13h"'],
      ['"1d"', '"1d"'],
    ] as const) {
      expect(issueLines(HEADER + ALLOW_RULE + `\n      sessionDuration: ${value}\n`)).toEqual([
        `p.yaml:11:24: found ${shown} for rule "read-reports".credentials.sessionDuration, expected a duration from 900s to 43200s (like "90s", "15m", "2h")`,
      ]);
    }
  });

  it('refuses empty or non-list agents, actions and resources', () => {
    expect(issueLines(HEADER + ALLOW_RULE.replace('agents: ["report-*"]', 'agents: []'))).toEqual([
      'p.yaml:6:13: found a list for rule "read-reports".agents, expected a non-empty list',
    ]);
    expect(issueLines(HEADER + ALLOW_RULE.replace('agents: ["report-*"]', 'agents: report-1'))).toEqual([
      'p.yaml:6:13: found "report-1" for rule "read-reports".agents, expected a non-empty list',
    ]);
  });

  it('refuses malformed actions and resources, naming each bad item', () => {
    const text = HEADER + ALLOW_RULE.replace('["s3:GetObject"]', '["s3:GetObject", "GetObject"]').replace('["arn:aws:s3:::reports/*"]', '["reports/*"]');
    expect(issueLines(text)).toEqual([
      'p.yaml:7:31: found "GetObject" in actions, expected an IAM action glob like "s3:Get*"',
      'p.yaml:8:17: found "reports/*" in resources, expected an ARN glob or "*"',
    ]);
  });

  it('refuses a host rule with AWS rule keys, bad hosts or bad ports', () => {
    const text =
      HEADER +
      [
        '  - name: tunnel',
        '    effect: allow',
        '    hosts: ["Example.COM"]',
        '    ports: [0, "443", 65536]',
        '    agents: ["*"]',
      ].join('\n');
    expect(issueLines(text)).toEqual([
      'p.yaml:8:5: found unknown key "agents" in a host rule, expected one of: name, description, effect, hosts, ports, methods, paths',
      'p.yaml:6:13: found "Example.COM" in hosts, expected a host name or glob (lower-case)',
      'p.yaml:7:13: found number 0 in ports, expected a port number 1-65535',
      'p.yaml:7:16: found "443" in ports, expected a port number 1-65535',
      'p.yaml:7:23: found number 65536 in ports, expected a port number 1-65535',
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const found = issues(HEADER + '  - name: [unclosed\n    effect: allow\n');
    expect(found.length).toBeGreaterThan(0);
    for (const issue of found) {
      expect(issue.file).toBe('p.yaml');
      expect(issue.line).toBeGreaterThanOrEqual(4);
      expect(issue.column).toBeGreaterThanOrEqual(1);
      expect(issue.message).toMatch(/^YAML syntax: /);
    }
  });

  it('reports duplicate keys as a YAML error', () => {
    const found = issues(HEADER + ALLOW_RULE.replace('    effect: allow', '    effect: allow\n    effect: deny'));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ file: 'p.yaml', line: 6, column: 5 });
    expect(found[0]?.message).toMatch(/^YAML syntax: .*unique/);
  });

  it('reports every problem of a file, not just the first', () => {
    const text = HEADER + ALLOW_RULE.replace('effect: allow', 'effect: maybe') + '\n  - name: second\n    effect: deny\n';
    expect(issueLines(text)).toEqual([
      'p.yaml:5:13: found "maybe" for rule "read-reports".effect, expected "allow", "deny" or "approve"',
      'p.yaml:11:5: rule "second" has no "agents", expected one',
      'p.yaml:11:5: rule "second" has no "actions", expected one',
      'p.yaml:11:5: rule "second" has no "resources", expected one',
    ]);
  });

  it('does not check the rules of a document whose kind is wrong', () => {
    expect(issueLines(HEADER.replace('kind: Policy', 'kind: Polcy') + ALLOW_RULE.replace('effect: allow', 'effect: maybe'))).toEqual([
      'p.yaml:2:7: found kind "Polcy", expected "Policy" or "Directory"',
    ]);
  });
});

describe('loadPolicyDir', () => {
  it('loads the example policies shipped in the repository', () => {
    const dir = fileURLToPath(new URL('../../policies', import.meta.url));
    const set = loadPolicyDir(dir);
    expect(set.files.length).toBeGreaterThan(0);
    for (const file of set.files) {
      expect(file.startsWith(dir + '/')).toBe(true);
      expect(file).toMatch(/\.ya?ml$/);
      expect(file).not.toMatch(/\.test\.ya?ml$/);
    }
    expect(set.rules.length).toBeGreaterThan(0);
    expect(new Set(set.rules.map((r) => r.name)).size).toBe(set.rules.length);
    expect(set.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('loads the example policies by the relative path policies', () => {
    const set = loadPolicyDir('policies');
    expect(set.files.every((f) => f.startsWith('policies/'))).toBe(true);
    expect(set.rules.length).toBe(loadPolicyDir(fileURLToPath(new URL('../../policies', import.meta.url))).rules.length);
  });

  it('loads *.yaml and *.yml files in name order and ignores *.test.yaml, *.test.yml and other files', () => {
    const dir = tempDir({
      'b.yml': HEADER + ALLOW_RULE.replace('read-reports', 'from-b'),
      'a.yaml': HEADER + ALLOW_RULE.replace('read-reports', 'from-a'),
      'a.test.yaml': 'this: [is not a policy',
      'b.test.yml': 'nor: [this',
      'notes.txt': 'not yaml',
      'c.yaml.bak': 'ignored',
    });
    expect(listPolicyFiles(dir)).toEqual([join(dir, 'a.yaml'), join(dir, 'b.yml')]);
    const set = loadPolicyDir(dir);
    expect(set.files).toEqual([join(dir, 'a.yaml'), join(dir, 'b.yml')]);
    expect(set.rules.map((r) => r.name)).toEqual(['from-a', 'from-b']);
  });

  it('refuses duplicate rule names across two files, naming both places', () => {
    const dir = tempDir({
      'a.yaml': HEADER + ALLOW_RULE,
      'b.yaml': HEADER + '  - name: other\n    effect: deny\n    agents: ["*"]\n    actions: ["*"]\n    resources: ["*"]\n' + ALLOW_RULE,
    });
    const error = loadError(dir);
    const a = relative(process.cwd(), join(dir, 'a.yaml'));
    const b = relative(process.cwd(), join(dir, 'b.yaml'));
    expect(error.name).toBe('PolicyLoadError');
    expect(error.issues).toEqual([
      { file: b, line: 9, column: 5, message: `found a second rule named "read-reports", expected unique rule names (first at ${a}:4)` },
    ]);
    expect(error.message).toBe(`${b}:9:5: found a second rule named "read-reports", expected unique rule names (first at ${a}:4)`);
  });

  it('collects issues from every file before failing', () => {
    const dir = tempDir({
      'a.yaml': HEADER + ALLOW_RULE.replace('effect: allow', 'effect: nope'),
      'b.yaml': HEADER.replace('kind: Policy\n', '') + ALLOW_RULE,
    });
    const error = loadError(dir);
    expect(error.message.split('\n')).toEqual([
      `${relative(process.cwd(), join(dir, 'a.yaml'))}:5:13: found "nope" for rule "read-reports".effect, expected "allow", "deny" or "approve"`,
      `${relative(process.cwd(), join(dir, 'b.yaml'))}:1:1: the document has no "kind", expected one`,
    ]);
  });

  it('refuses a missing directory and a file given as a directory', () => {
    const missing = join(tmpdir(), 'countersign-no-such-dir-' + process.pid);
    expect(loadError(missing).issues).toEqual([
      { file: missing, line: 0, column: 0, message: 'policy directory not found; create it or set COUNTERSIGN_POLICY_DIR' },
    ]);
    const dir = tempDir({ 'a.yaml': HEADER + ALLOW_RULE });
    expect(loadError(join(dir, 'a.yaml')).issues).toEqual([{ file: join(dir, 'a.yaml'), line: 0, column: 0, message: 'not a directory' }]);
  });

  it('loads an empty directory as no rules', () => {
    const set = loadPolicyDir(tempDir({}));
    expect(set.rules).toEqual([]);
    expect(set.files).toEqual([]);
    expect(set.directory).toEqual({ agents: [], reviewers: [], groups: [], identities: [] });
  });
});
