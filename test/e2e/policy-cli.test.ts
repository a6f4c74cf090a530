// `countersign policy check|test|explain` as CI would run them: output and exit codes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../support/countersign.js';
import { repoRoot } from '../support/python.js';

function countersign(args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 20_000 });
  return { code: result.status, out: result.stdout + result.stderr };
}

function policyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-policy-cli-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const HEADER = 'apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules:\n';
const ROLE = '    credentials: { roleArn: "arn:aws:iam::123456789012:role/r" }\n';

describe('countersign policy', { timeout: 60_000 }, () => {
  it('check: the shipped examples are valid and raise no warnings', () => {
    const { code, out } = countersign(['policy', 'check', 'policies']);
    expect(out).toMatch(/^ok: \d+ rules in \d+ files, 0 warnings/m);
    expect(code).toBe(0);
  });

  it('test: the shipped example cases all pass', () => {
    const { code, out } = countersign(['policy', 'test', 'policies']);
    expect(out).toMatch(/^\d+ passed, 0 failed$/m);
    expect(code).toBe(0);
  });

  it('check: warns about dead, risky and unapprovable rules and unknown actions; --strict fails on them', () => {
    const dir = policyDir({
      'directory.yaml': 'apiVersion: countersign.dev/v1alpha1\nkind: Directory\nagents:\n  bot: { owners: [ann] }\nreviewers:\n  ann: { groups: [sec] }\ngroups:\n  sec: {}\n',
      'rules.yaml':
        HEADER +
        '  - name: everything\n    effect: allow\n    agents: ["*"]\n    actions: ["*"]\n    resources: ["*"]\n' + ROLE +
        '  - name: never-reads\n    effect: deny\n    agents: ["*"]\n    actions: ["s3:*"]\n    resources: ["*"]\n' +
        '  - name: dead-read\n    effect: allow\n    agents: ["bot"]\n    actions: ["s3:GetObject"]\n    resources: ["arn:aws:s3:::b/*"]\n' + ROLE +
        '  - name: owner-only\n    effect: approve\n    agents: ["bot"]\n    actions: ["iam:PassRole"]\n    resources: ["*"]\n    approval: { groups: [sec] }\n' + ROLE +
        '  - name: typo\n    effect: allow\n    agents: ["bot"]\n    actions: ["s3:GetObjekt"]\n    resources: ["*"]\n' + ROLE,
    });
    const lenient = countersign(['policy', 'check', dir]);
    expect(lenient.code).toBe(0);
    expect(lenient.out).toMatch(/rules\.yaml:4:5: warning GRANTS_EVERYTHING: rule "everything" allows every action on every resource/);
    expect(lenient.out).toContain('warning SHADOWED_RULE: rule "dead-read" never decides anything: "never-reads" (deny) covers every request it matches');
    expect(lenient.out).toContain('warning UNREACHABLE_APPROVAL: rule "owner-only" can never be approved for agent "bot"');
    expect(lenient.out).toContain('warning UNKNOWN_ACTION: rule "typo": "s3:GetObjekt" matches no IAM action');
    expect(countersign(['policy', 'check', '--strict', dir]).code).toBe(1);
  });

  it('check: an unknown group is an error with its position, exit 1', () => {
    const dir = policyDir({ 'rules.yaml': HEADER + '  - name: r\n    effect: allow\n    agents: ["group:reportng"]\n    actions: ["s3:GetObject"]\n    resources: ["*"]\n' + ROLE });
    const { code, out } = countersign(['policy', 'check', dir]);
    expect(code).toBe(1);
    expect(out).toMatch(/rules\.yaml:6:13: found unknown group "reportng", expected a declared group \(declared: none\)/);
  });

  it('test: a failing case names its file, line, what it wanted and what it got; exit 1', () => {
    const dir = policyDir({
      'rules.yaml': HEADER + '  - name: reads\n    effect: allow\n    agents: ["*"]\n    actions: ["s3:GetObject"]\n    resources: ["*"]\n' + ROLE,
      'rules.test.yaml':
        'apiVersion: countersign.dev/v1alpha1\nkind: PolicyTest\ncases:\n' +
        '  - name: reads are allowed\n    agent: a\n    request: GET s3://bucket/k\n    expect: { effect: allow, rule: reads }\n' +
        '  - name: writes are allowed too (wrong)\n    agent: a\n    request: PUT s3://bucket/k\n    expect: { effect: allow }\n',
    });
    const { code, out } = countersign(['policy', 'test', dir]);
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL .*rules\.test\.yaml:8: writes are allowed too \(wrong\): want allow, got deny \[NO_RULE_MATCHED\]/);
    expect(out).toMatch(/^1 passed, 1 failed$/m);
  });

  it('explain: every rule against the request, why each did or did not match, and the decision', () => {
    const { code, out } = countersign(['policy', 'explain', '--agent', 'support-bot', 'GET', 's3://customer-data-eu/accounts.csv']);
    expect(code).toBe(0);
    expect(out).toMatch(/approve\s+customer-data-reads\s+matched/);
    expect(out).toMatch(/allow\s+read-only\s+matched/);
    expect(out).toMatch(/allow\s+reports-write\s+no \(AGENT_MISMATCH\)/);
    expect(out).toContain('decision: approve by "customer-data-reads"');
    expect(out).toContain('approval by 1 of: group:data-owners');
  });

  it('explain: a request written as a call with parameters', () => {
    const { out } = countersign(['policy', 'explain', '--agent', 'deploy-bot', '--call', 'iam:AttachRolePolicy', '--params', '{"RoleName":"app","PolicyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}']);
    expect(out).toContain('decision: deny by "no-admin-policies"');
    expect(out).toMatch(/deny\s+no-admin-policies\s+matched/);
  });
});
