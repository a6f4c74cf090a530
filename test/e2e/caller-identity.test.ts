// sts:GetCallerIdentity, which tools call first and IAM never refuses, through countersign with no
// rule for it (src/policy/caller-identity.ts): the AWS CLI and boto3 through HTTPS_PROXY get AWS's
// own answer (moto, request authentication on) for the role the agent's rules name, under a
// session that can do nothing else; audited; refused when the role is not clear; never a guess.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls } from '../support/boto3.js';
import { agentEnv, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { assumedRoles } from '../support/moto-state.js';
import { adminEnv, countersignEnv, seedRoles, startMoto, type MotoServer } from '../support/moto.js';
import { venvBin } from '../support/python.js';

const run = promisify(execFile);

function policyYaml(moto: MotoServer): string {
  const role = (name: string) => `arn:aws:iam::${moto.accountId}:role/${name}`;
  return `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: reporter-reads
    effect: allow
    agents: ["reporter"]
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::reports/*"]
    credentials: { roleArn: "${moto.roleArn}" }
  - name: two-roles-reads
    effect: allow
    agents: ["juggler"]
    actions: ["s3:GetObject"]
    resources: ["*"]
    credentials: { roleArn: "${moto.roleArn}" }
  - name: two-roles-writes
    effect: allow
    agents: ["juggler"]
    actions: ["s3:PutObject"]
    resources: ["*"]
    credentials: { roleArn: "${role('countersign-writer')}" }
  - name: quarantine
    effect: deny
    agents: ["suspect"]
    actions: ["*"]
    resources: ["*"]
  - name: suspect-reads
    effect: allow
    agents: ["suspect"]
    actions: ["s3:GetObject"]
    resources: ["*"]
    credentials: { roleArn: "${moto.roleArn}" }
`;
}

describe('sts:GetCallerIdentity with no rule for it', { timeout: 120_000 }, () => {
  let moto: MotoServer;
  let cs: CountersignProcess;
  const agents: Record<string, AgentKey> = {};

  beforeAll(async () => {
    moto = await startMoto();
    await seedRoles(moto, ['countersign-writer']);
    cs = await startCountersign({ policies: { 'rules.yaml': policyYaml(moto) }, env: countersignEnv(moto) });
    for (const name of ['reporter', 'juggler', 'suspect', 'nobody']) agents[name] = cs.issueAgent(name);
  }, 120_000);

  afterAll(async () => {
    await cs?.stop();
    await moto?.stop();
  });

  const key = (name: string): AgentKey => agents[name] ?? { agent: name, accessKeyId: '', secretAccessKey: '' };

  it('AWS CLI: aws sts get-caller-identity answers with the account and the assumed role the agent runs as', async () => {
    const { stdout } = await run(venvBin('aws'), ['sts', 'get-caller-identity', '--output', 'json'], { env: agentEnv(cs, key('reporter')) });
    const identity = JSON.parse(stdout) as { Account: string; Arn: string; UserId: string };
    expect(identity.Account).toBe(moto.accountId);
    expect(identity.Arn).toMatch(new RegExp(`^arn:aws:sts::${moto.accountId}:assumed-role/countersign-target/cs\\.reporter\\.`));

    const [record] = await cs.waitForRequests((r) => r.operation === 'GetCallerIdentity' && r.agent === 'reporter');
    expect(record).toMatchObject({ agent: 'reporter', service: 'sts', actions: ['sts:GetCallerIdentity'], decision: 'allow', rules: ['builtin:caller-identity'], reasons: ['CALLER_IDENTITY_DEFAULT'], upstreamStatus: 200, status: 200, mode: 'intercept' });
    expect(identity.Arn.endsWith(`/${String(record?.stsSession)}`)).toBe(true);
    // The session can tell who it is, and nothing else.
    const session = (await assumedRoles(moto.endpoint)).find((r) => r.session_name === record?.stsSession);
    expect(session?.role_arn).toBe(moto.roleArn);
    expect(JSON.parse(session?.policy ?? '{}')).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' }] });
  });

  it('boto3: get_caller_identity through HTTPS_PROXY, the same answer', async () => {
    const [outcome] = await boto3Calls(agentEnv(cs, key('reporter')), [{ service: 'sts', op: 'get_caller_identity', params: {} }]);
    expect(outcome?.ok).toBe(true);
    expect(outcome?.result).toMatchObject({ Account: moto.accountId });
    expect(String(outcome?.result?.Arn)).toContain(':assumed-role/countersign-target/cs.reporter.');
  });

  it('refused, and nothing sent to STS, when the agent\'s rules name two roles, no role, or a deny rule matches', async () => {
    const before = (await assumedRoles(moto.endpoint)).length;
    for (const [name, why] of [['juggler', 'no rule matched'], ['nobody', 'no rule matched'], ['suspect', 'denied by rule "quarantine"']] as const) {
      const [outcome] = await boto3Calls(agentEnv(cs, key(name)), [{ service: 'sts', op: 'get_caller_identity', params: {} }]);
      expect(outcome, name).toMatchObject({ ok: false, code: 'AccessDenied', status: 403 });
      expect(outcome?.message).toContain(`sts:GetCallerIdentity on *: ${why}`);
      const [record] = await cs.waitForRequests((r) => r.operation === 'GetCallerIdentity' && r.agent === name);
      expect(record).toMatchObject({ decision: 'deny', event: 'request.failed', errorCode: 'AccessDenied' });
      expect(record?.upstreamStatus).toBeUndefined();
    }
    expect((await assumedRoles(moto.endpoint)).length).toBe(before);
  });

  it('the agent key itself is worthless against AWS: straight to STS it is an unknown key', async () => {
    const direct = { ...adminEnv(moto), AWS_ACCESS_KEY_ID: key('reporter').accessKeyId, AWS_SECRET_ACCESS_KEY: key('reporter').secretAccessKey };
    const failed = await run(venvBin('aws'), ['sts', 'get-caller-identity'], { env: direct }).then(
      () => '',
      (error: { stderr?: string }) => error.stderr ?? '',
    );
    expect(failed).toContain('InvalidClientTokenId');
  });
});
