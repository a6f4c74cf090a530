import { describe, expect, it } from 'vitest';
import { accountScoped, type ResourceRef } from '../../src/aws/arn.js';
import type { ActionOnResource } from '../../src/aws/classify/index.js';
import { compilePolicySet, type CompiledPolicySet } from '../../src/policy/compile.js';
import { decide, decideHost, decideHostRequest, type Decision } from '../../src/policy/evaluate.js';
import { buildPolicySet } from '../../src/policy/load.js';

const ROLE_A = 'arn:aws:iam::111111111111:role/a';
const ROLE_B = 'arn:aws:iam::222222222222:role/b';

interface Rule {
  name: string;
  effect: 'allow' | 'deny';
  agents?: string[];
  actions: string[];
  resources: string[];
  role?: string;
}

/** Builds a policy through the real YAML loader and compiler. */
function policy(...rules: Rule[]): CompiledPolicySet {
  const lines = ['apiVersion: countersign.dev/v1alpha1', 'kind: Policy', 'rules:'];
  for (const r of rules) {
    lines.push(
      `  - name: ${r.name}`,
      `    effect: ${r.effect}`,
      `    agents: ${JSON.stringify(r.agents ?? ['*'])}`,
      `    actions: ${JSON.stringify(r.actions)}`,
      `    resources: ${JSON.stringify(r.resources)}`,
    );
    if (r.effect === 'allow') lines.push('    credentials:', `      roleArn: ${r.role ?? ROLE_A}`);
  }
  return compiled(lines.join('\n'));
}

function compiled(text: string): CompiledPolicySet {
  return compilePolicySet(buildPolicySet([{ path: 'test.yaml', text }]));
}

/** Decides for an agent, with the service and region of the first pair's action. */
function decideFor(policy: CompiledPolicySet, agent: string, needs: ActionOnResource[]): Decision {
  const service = (needs[0]?.action ?? 's3:').split(':')[0] ?? '';
  return decide(policy, { agent, service: service.toLowerCase(), region: 'us-east-1', needs });
}

const literal = (arn: string): ResourceRef => ({ arn, needsAccount: false });
const need = (action: string, resource: ResourceRef): ActionOnResource => ({ action, resource });
const s3Object = (key: string) => literal(`arn:aws:s3:::reports/${key}`);
const table = (name: string, region = 'us-east-1') => accountScoped('aws', 'dynamodb', region, `table/${name}`);

describe('decide', () => {
  const reports = policy(
    { name: 'read-reports', effect: 'allow', agents: ['report-*'], actions: ['s3:GetObject', 's3:ListBucket'], resources: ['arn:aws:s3:::reports', 'arn:aws:s3:::reports/*'] },
    { name: 'no-secrets', effect: 'deny', actions: ['s3:*'], resources: ['arn:aws:s3:::reports/secret/*'] },
  );

  it('allows a pair an allow rule matches, with the grant and the rule credentials', () => {
    expect(decideFor(reports, 'report-1', [need('s3:GetObject', s3Object('q1.csv'))])).toEqual({
      effect: 'allow',
      rules: ['read-reports'],
      reasons: [{ code: 'RULE_ALLOWED', action: 's3:GetObject', resource: 'arn:aws:s3:::reports/q1.csv', rule: 'read-reports' }],
      grants: [{ action: 's3:GetObject', resource: 'arn:aws:s3:::reports/q1.csv' }],
      credentials: { roleArn: ROLE_A, sessionDurationSeconds: 900 },
      approvals: [],
    });
  });

  it('lets deny beat allow', () => {
    expect(decideFor(reports, 'report-1', [need('s3:GetObject', s3Object('secret/salaries.csv'))])).toEqual({
      effect: 'deny',
      rules: ['no-secrets'],
      reasons: [{ code: 'RULE_DENIED', action: 's3:GetObject', resource: 'arn:aws:s3:::reports/secret/salaries.csv', rule: 'no-secrets' }],
      grants: [],
      approvals: [],
    });
  });

  it('lets deny beat allow whatever the rule order', () => {
    const denyFirst = policy(
      { name: 'no-secrets', effect: 'deny', actions: ['s3:*'], resources: ['arn:aws:s3:::reports/secret/*'] },
      { name: 'read-reports', effect: 'allow', actions: ['s3:GetObject'], resources: ['arn:aws:s3:::reports/*'] },
    );
    expect(decideFor(denyFirst, 'a', [need('s3:GetObject', s3Object('secret/x'))]).reasons[0]?.code).toBe('RULE_DENIED');
    expect(decideFor(denyFirst, 'a', [need('s3:GetObject', s3Object('public/x'))]).effect).toBe('allow');
  });

  it('denies by default with NO_RULE_MATCHED', () => {
    expect(decideFor(reports, 'report-1', [need('s3:PutObject', s3Object('q1.csv'))])).toEqual({
      effect: 'deny',
      rules: [],
      reasons: [{ code: 'NO_RULE_MATCHED', action: 's3:PutObject', resource: 'arn:aws:s3:::reports/q1.csv' }],
      grants: [],
      approvals: [],
    });
    expect(decideFor(reports, 'report-1', [need('s3:GetObject', literal('arn:aws:s3:::other/q1.csv'))]).reasons[0]?.code).toBe('NO_RULE_MATCHED');
  });

  it('denies a request with no needs', () => {
    expect(decideFor(reports, 'report-1', [])).toEqual({ effect: 'deny', rules: [], reasons: [], grants: [], approvals: [] });
  });

  it('matches agents by glob, case-sensitively', () => {
    const get = [need('s3:GetObject', s3Object('q1.csv'))];
    expect(decideFor(reports, 'report-1', get).effect).toBe('allow');
    expect(decideFor(reports, 'report-', get).effect).toBe('allow');
    expect(decideFor(reports, 'support-1', get).effect).toBe('deny');
    expect(decideFor(reports, 'Report-1', get).effect).toBe('deny');
    expect(decideFor(reports, 'xreport-1', get).effect).toBe('deny');
  });

  it('applies a deny only to the agents it names', () => {
    const p = policy(
      { name: 'all', effect: 'allow', actions: ['s3:GetObject'], resources: ['*'] },
      { name: 'not-interns', effect: 'deny', agents: ['intern-?'], actions: ['s3:GetObject'], resources: ['*'] },
    );
    const get = [need('s3:GetObject', s3Object('x'))];
    expect(decideFor(p, 'intern-1', get).reasons[0]).toMatchObject({ code: 'RULE_DENIED', rule: 'not-interns' });
    expect(decideFor(p, 'intern-10', get).effect).toBe('allow');
  });

  it('compares actions case-insensitively and resources case-sensitively', () => {
    const p = policy({ name: 'lower', effect: 'allow', actions: ['s3:GETOBJECT', 'dynamodb:get*'], resources: ['arn:aws:s3:::reports/*', 'arn:aws:dynamodb:*:*:table/*'] });
    expect(decideFor(p, 'a', [need('s3:GetObject', s3Object('x'))]).effect).toBe('allow');
    expect(decideFor(p, 'a', [need('dynamodb:GetItem', table('orders'))]).effect).toBe('allow');
    expect(decideFor(p, 'a', [need('s3:GetObject', literal('arn:aws:s3:::REPORTS/x'))]).effect).toBe('deny');
    expect(decideFor(p, 'a', [need('s3:GetObjectAcl', s3Object('x'))]).effect).toBe('deny');
  });

  it('lets an action glob cover a family of actions', () => {
    const p = policy({ name: 'gets', effect: 'allow', actions: ['s3:Get*'], resources: ['*'] });
    expect(decideFor(p, 'a', [need('s3:GetObjectVersion', s3Object('x'))]).effect).toBe('allow');
    expect(decideFor(p, 'a', [need('s3:PutObject', s3Object('x'))]).effect).toBe('deny');
  });

  it('uses the first matching allow rule for credentials', () => {
    const p = policy(
      { name: 'first', effect: 'allow', actions: ['s3:GetObject'], resources: ['arn:aws:s3:::reports/*'], role: ROLE_A },
      { name: 'second', effect: 'allow', actions: ['s3:*'], resources: ['*'], role: ROLE_B },
    );
    const decision = decideFor(p, 'a', [need('s3:GetObject', s3Object('x'))]);
    expect(decision.rules).toEqual(['first']);
    expect(decision.credentials?.roleArn).toBe(ROLE_A);
  });
});

describe('decide: resources without an account', () => {
  it('fills the account of a DynamoDB table from the allow rule role', () => {
    const p = policy({ name: 'orders', effect: 'allow', actions: ['dynamodb:GetItem'], resources: ['arn:aws:dynamodb:*:111111111111:table/orders'], role: ROLE_A });
    expect(decideFor(p, 'a', [need('dynamodb:GetItem', table('orders', 'eu-west-1'))])).toEqual({
      effect: 'allow',
      rules: ['orders'],
      reasons: [{ code: 'RULE_ALLOWED', action: 'dynamodb:GetItem', resource: 'arn:aws:dynamodb:eu-west-1:111111111111:table/orders', rule: 'orders' }],
      grants: [{ action: 'dynamodb:GetItem', resource: 'arn:aws:dynamodb:eu-west-1:111111111111:table/orders' }],
      credentials: { roleArn: ROLE_A, sessionDurationSeconds: 900 },
      approvals: [],
    });
  });

  it('does not match a rule whose resource names another account than its role', () => {
    const p = policy({ name: 'elsewhere', effect: 'allow', actions: ['dynamodb:GetItem'], resources: ['arn:aws:dynamodb:*:222222222222:table/orders'], role: ROLE_A });
    expect(decideFor(p, 'a', [need('dynamodb:GetItem', table('orders'))])).toEqual({
      effect: 'deny',
      rules: [],
      reasons: [{ code: 'NO_RULE_MATCHED', action: 'dynamodb:GetItem', resource: 'arn:aws:dynamodb:us-east-1::table/orders' }],
      grants: [],
      approvals: [],
    });
  });

  it('chooses the allow rule whose role account fits the resource', () => {
    const p = policy(
      { name: 'in-b', effect: 'allow', actions: ['dynamodb:*'], resources: ['arn:aws:dynamodb:*:222222222222:table/*'], role: ROLE_A },
      { name: 'in-b-right-role', effect: 'allow', actions: ['dynamodb:*'], resources: ['arn:aws:dynamodb:*:222222222222:table/*'], role: ROLE_B },
    );
    const decision = decideFor(p, 'a', [need('dynamodb:Query', table('orders'))]);
    expect(decision.rules).toEqual(['in-b-right-role']);
    expect(decision.credentials?.roleArn).toBe(ROLE_B);
    expect(decision.grants).toEqual([{ action: 'dynamodb:Query', resource: 'arn:aws:dynamodb:us-east-1:222222222222:table/orders' }]);
  });

  it('checks deny rules against the account-filled resource', () => {
    const p = policy(
      { name: 'tables', effect: 'allow', actions: ['dynamodb:*'], resources: ['*'], role: ROLE_A },
      { name: 'not-in-a', effect: 'deny', actions: ['dynamodb:DeleteItem'], resources: ['arn:aws:dynamodb:*:111111111111:table/*'] },
    );
    expect(decideFor(p, 'a', [need('dynamodb:DeleteItem', table('orders'))]).reasons).toEqual([
      { code: 'RULE_DENIED', action: 'dynamodb:DeleteItem', resource: 'arn:aws:dynamodb:us-east-1:111111111111:table/orders', rule: 'not-in-a' },
    ]);
    expect(decideFor(p, 'a', [need('dynamodb:GetItem', table('orders'))]).effect).toBe('allow');
  });

  it('applies an account-wildcard deny even when no allow rule matched', () => {
    const p = policy({ name: 'no-prod', effect: 'deny', actions: ['dynamodb:*'], resources: ['arn:aws:dynamodb:*:*:table/prod-*'] });
    expect(decideFor(p, 'a', [need('dynamodb:DeleteTable', table('prod-orders'))]).reasons).toEqual([
      { code: 'RULE_DENIED', action: 'dynamodb:DeleteTable', resource: 'arn:aws:dynamodb:us-east-1::table/prod-orders', rule: 'no-prod' },
    ]);
  });

  it('leaves resources that carry no account placeholder alone', () => {
    const p = policy({ name: 'whoami', effect: 'allow', actions: ['sts:GetCallerIdentity'], resources: ['*'], role: ROLE_B });
    expect(decideFor(p, 'a', [need('sts:GetCallerIdentity', literal('*'))]).grants).toEqual([{ action: 'sts:GetCallerIdentity', resource: '*' }]);
  });
});

describe('decide: requests that need several pairs', () => {
  const putWithAcl = [need('s3:PutObject', s3Object('x')), need('s3:PutObjectAcl', s3Object('x'))];

  it('denies when only one of the pairs is allowed', () => {
    const p = policy({ name: 'put', effect: 'allow', actions: ['s3:PutObject'], resources: ['arn:aws:s3:::reports/*'] });
    expect(decideFor(p, 'a', putWithAcl)).toEqual({
      effect: 'deny',
      rules: [],
      reasons: [
        { code: 'RULE_ALLOWED', action: 's3:PutObject', resource: 'arn:aws:s3:::reports/x', rule: 'put' },
        { code: 'NO_RULE_MATCHED', action: 's3:PutObjectAcl', resource: 'arn:aws:s3:::reports/x' },
      ],
      grants: [],
      approvals: [],
    });
  });

  it('names the denying rule when one pair is denied', () => {
    const p = policy(
      { name: 'put', effect: 'allow', actions: ['s3:PutObject*'], resources: ['*'] },
      { name: 'no-acls', effect: 'deny', actions: ['s3:PutObjectAcl'], resources: ['*'] },
    );
    const decision = decideFor(p, 'a', putWithAcl);
    expect(decision.effect).toBe('deny');
    expect(decision.rules).toEqual(['no-acls']);
    expect(decision.reasons.map((r) => r.code)).toEqual(['RULE_ALLOWED', 'RULE_DENIED']);
  });

  it('allows when every pair is allowed under one role, with one grant per pair', () => {
    const p = policy(
      { name: 'put', effect: 'allow', actions: ['s3:PutObject'], resources: ['arn:aws:s3:::reports/*'] },
      { name: 'acl', effect: 'allow', actions: ['s3:PutObjectAcl'], resources: ['arn:aws:s3:::reports/*'] },
    );
    expect(decideFor(p, 'a', putWithAcl)).toEqual({
      effect: 'allow',
      rules: ['put', 'acl'],
      reasons: [
        { code: 'RULE_ALLOWED', action: 's3:PutObject', resource: 'arn:aws:s3:::reports/x', rule: 'put' },
        { code: 'RULE_ALLOWED', action: 's3:PutObjectAcl', resource: 'arn:aws:s3:::reports/x', rule: 'acl' },
      ],
      grants: [
        { action: 's3:PutObject', resource: 'arn:aws:s3:::reports/x' },
        { action: 's3:PutObjectAcl', resource: 'arn:aws:s3:::reports/x' },
      ],
      credentials: { roleArn: ROLE_A, sessionDurationSeconds: 900 },
      approvals: [],
    });
  });

  it('refuses with ROLES_DIFFER when the pairs are allowed under different roles', () => {
    const p = policy(
      { name: 'put', effect: 'allow', actions: ['s3:PutObject'], resources: ['*'], role: ROLE_A },
      { name: 'acl', effect: 'allow', actions: ['s3:PutObjectAcl'], resources: ['*'], role: ROLE_B },
    );
    expect(decideFor(p, 'a', putWithAcl)).toEqual({
      effect: 'deny',
      rules: ['put', 'acl'],
      reasons: [
        { code: 'RULE_ALLOWED', action: 's3:PutObject', resource: 'arn:aws:s3:::reports/x', rule: 'put' },
        { code: 'RULE_ALLOWED', action: 's3:PutObjectAcl', resource: 'arn:aws:s3:::reports/x', rule: 'acl' },
        { code: 'ROLES_DIFFER', action: 's3:PutObject,s3:PutObjectAcl', resource: `${ROLE_A},${ROLE_B}` },
      ],
      grants: [],
      approvals: [],
    });
  });

  it('allows several tables of a batch under one rule', () => {
    const p = policy({ name: 'batch', effect: 'allow', actions: ['dynamodb:BatchGetItem'], resources: ['arn:aws:dynamodb:*:*:table/*'] });
    const decision = decideFor(p, 'a', [need('dynamodb:BatchGetItem', table('t1')), need('dynamodb:BatchGetItem', table('t2'))]);
    expect(decision.effect).toBe('allow');
    expect(decision.rules).toEqual(['batch']);
    expect(decision.grants.map((g) => g.resource)).toEqual([
      'arn:aws:dynamodb:us-east-1:111111111111:table/t1',
      'arn:aws:dynamodb:us-east-1:111111111111:table/t2',
    ]);
  });
});

describe('decideHost', () => {
  const hosts = compiled(
    [
      'apiVersion: countersign.dev/v1alpha1',
      'kind: Policy',
      'rules:',
      '  - name: registries',
      '    effect: allow',
      '    hosts: ["registry.npmjs.org", "*.pythonhosted.org"]',
      '  - name: no-evil',
      '    effect: deny',
      '    hosts: ["evil.pythonhosted.org"]',
      '  - name: dev-server',
      '    effect: allow',
      '    hosts: ["dev.example.com"]',
      '    ports: [8443]',
    ].join('\n'),
  );

  it('allows a host on a listed port', () => {
    expect(decideHost(hosts, 'registry.npmjs.org', 443)).toEqual({ effect: 'allow', rule: 'registries', inspect: false });
    expect(decideHost(hosts, 'files.pythonhosted.org', 443)).toEqual({ effect: 'allow', rule: 'registries', inspect: false });
    expect(decideHost(hosts, 'dev.example.com', 8443)).toEqual({ effect: 'allow', rule: 'dev-server', inspect: false });
  });

  it('lets deny beat allow', () => {
    expect(decideHost(hosts, 'evil.pythonhosted.org', 443)).toEqual({ effect: 'deny', rule: 'no-evil', inspect: false });
  });

  it('requires the port to match', () => {
    expect(decideHost(hosts, 'registry.npmjs.org', 80)).toBeUndefined();
    expect(decideHost(hosts, 'dev.example.com', 443)).toBeUndefined();
  });

  it('compares host names case-insensitively', () => {
    expect(decideHost(hosts, 'Registry.NPMJS.org', 443)).toEqual({ effect: 'allow', rule: 'registries', inspect: false });
  });

  it('returns undefined when no host rule matches', () => {
    expect(decideHost(hosts, 'example.org', 443)).toBeUndefined();
    expect(decideHost(hosts, 'pythonhosted.org', 443)).toBeUndefined();
  });
});

describe('decide: action case', () => {
  it('matches a lower-case rule action against the SDK spelling, and the reverse', () => {
    const p = policy({ name: 'lower', effect: 'allow', actions: ['s3:getobject'], resources: ['*'] });
    expect(decideFor(p, 'a', [need('s3:GetObject', s3Object('x'))]).effect).toBe('allow');
    expect(decideFor(p, 'a', [need('S3:GETOBJECT', s3Object('x'))]).effect).toBe('allow');
  });
});

describe('decide: approve rules and groups', () => {
  const DIRECTORY = [
    'apiVersion: countersign.dev/v1alpha1',
    'kind: Directory',
    'agents:',
    '  report-bot: { owners: [dana], groups: [reporting] }',
    'reviewers:',
    '  dana: { name: Dana, groups: [data-owners] }',
    'groups:',
    '  reporting: { description: report agents }',
    '  data-owners: { description: data people }',
  ].join('\n');

  const RULES = [
    'apiVersion: countersign.dev/v1alpha1',
    'kind: Policy',
    'rules:',
    '  - name: reads',
    '    effect: allow',
    '    agents: ["*"]',
    '    actions: ["s3:GetObject"]',
    '    resources: ["*"]',
    '    credentials: { roleArn: "arn:aws:iam::111111111111:role/a" }',
    '  - name: sensitive',
    '    effect: approve',
    '    agents: ["*"]',
    '    actions: ["s3:GetObject"]',
    '    resources: ["arn:aws:s3:::customers/*"]',
    '    credentials: { roleArn: "arn:aws:iam::111111111111:role/a" }',
    '    approval: { reviewers: [dana] }',
    '  - name: no-secrets',
    '    effect: deny',
    '    agents: ["*"]',
    '    actions: ["s3:*"]',
    '    resources: ["arn:aws:s3:::customers/secret/*"]',
    '  - name: reporting-writes',
    '    effect: allow',
    '    agents: ["group:reporting"]',
    '    actions: ["s3:PutObject"]',
    '    resources: ["arn:aws:s3:::reports/*"]',
    '    credentials: { roleArn: "arn:aws:iam::111111111111:role/a" }',
  ].join('\n');

  const p = compilePolicySet(
    buildPolicySet([
      { path: 'directory.yaml', text: DIRECTORY },
      { path: 'rules.yaml', text: RULES },
    ]),
  );

  it('lets approve beat allow, listing what must be approved', () => {
    const decision = decideFor(p, 'anyone', [need('s3:GetObject', literal('arn:aws:s3:::customers/c1.json'))]);
    expect(decision.effect).toBe('approve');
    expect(decision.rules).toEqual(['sensitive']);
    expect(decision.reasons).toEqual([{ code: 'RULE_NEEDS_APPROVAL', action: 's3:GetObject', resource: 'arn:aws:s3:::customers/c1.json', rule: 'sensitive' }]);
    expect(decision.approvals).toEqual([
      { rule: 'sensitive', spec: { reviewers: ['dana'], groups: [], quorum: 1, pendingTimeoutSeconds: 900, holdTimeoutSeconds: 55, maxUses: 1 } },
    ]);
    expect(decision.grants).toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::customers/c1.json' }]);
  });

  it('lets deny beat approve', () => {
    const decision = decideFor(p, 'anyone', [need('s3:GetObject', literal('arn:aws:s3:::customers/secret/k'))]);
    expect(decision.effect).toBe('deny');
    expect(decision.reasons).toEqual([{ code: 'RULE_DENIED', action: 's3:GetObject', resource: 'arn:aws:s3:::customers/secret/k', rule: 'no-secrets' }]);
    expect(decision.approvals).toEqual([]);
  });

  it('keeps plain allow where no approve rule matches', () => {
    expect(decideFor(p, 'anyone', [need('s3:GetObject', literal('arn:aws:s3:::public/x'))]).effect).toBe('allow');
  });

  it('matches group:NAME against the agents declared in that group', () => {
    const put = [need('s3:PutObject', literal('arn:aws:s3:::reports/r.csv'))];
    expect(decideFor(p, 'report-bot', put).effect).toBe('allow');
    expect(decideFor(p, 'other-bot', put).effect).toBe('deny');
    expect(decideFor(p, 'reporting', put).effect).toBe('deny');
  });
});

describe('host rules with methods and paths', () => {
  const policy = compilePolicySet(
    buildPolicySet([
      {
        path: 'hosts.yaml',
        text: `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: github-reads
    effect: allow
    hosts: ["api.github.com"]
    methods: [GET, HEAD]
    paths: ["/repos/acme/*"]
  - name: no-admin
    effect: deny
    hosts: ["api.github.com"]
    paths: ["/repos/acme/*/admin*"]
  - name: npm
    effect: allow
    hosts: ["registry.npmjs.org"]
`,
      },
    ]),
  );

  it('intercepts a host whose rules look inside requests, tunnels one whose rules do not', () => {
    expect(decideHost(policy, 'api.github.com', 443)).toMatchObject({ inspect: true });
    expect(decideHost(policy, 'registry.npmjs.org', 443)).toEqual({ effect: 'allow', rule: 'npm', inspect: false });
    expect(decideHost(policy, 'example.com', 443)).toBeUndefined();
  });

  it('decides each request by method and path; deny beats allow; no rule, no way through', () => {
    expect(decideHostRequest(policy, 'api.github.com', 443, 'GET', '/repos/acme/app')).toEqual({ effect: 'allow', rule: 'github-reads' });
    expect(decideHostRequest(policy, 'api.github.com', 443, 'POST', '/repos/acme/app')).toBeUndefined();
    expect(decideHostRequest(policy, 'api.github.com', 443, 'GET', '/repos/other/app')).toBeUndefined();
    expect(decideHostRequest(policy, 'api.github.com', 443, 'GET', '/repos/acme/app/admin/keys')).toEqual({ effect: 'deny', rule: 'no-admin' });
  });
});
