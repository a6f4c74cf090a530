// Approval binding end to end (issue 11): a real countersign process, moto with request
// authentication on as AWS and STS, the AWS CLI and boto3 as agents, and hand-signed requests
// for what no SDK sends.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls } from '../support/boto3.js';
import { agentEnv, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { assumedRoles } from '../support/moto-state.js';
import { adminEnv, countersignEnv, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { venvBin } from '../support/python.js';
import { send, signedRequest, type SignOptions } from '../support/raw-requests.js';

const run = promisify(execFile);

interface ApiApproval {
  id: string;
  status: string;
  usesLeft: number;
  intent: string;
  context: { agent: string; operation: string; resources: string[]; region: string };
}

function policies(moto: MotoServer): Record<string, string> {
  return {
    'directory.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  cli-bot: { owners: [olga] }
  first-bot: { owners: [olga] }
  second-bot: { owners: [olga] }
reviewers:
  olga: { name: Olga }
  ann: { name: Ann }
`,
    'rules.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: held-reads
    effect: approve
    agents: ["cli-bot"]
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::held/*"]
    approval: { reviewers: [ann], holdTimeout: 30s }
    credentials: { roleArn: "${moto.roleArn}" }
  - name: table-deletes
    effect: approve
    agents: ["cli-bot"]
    actions: ["dynamodb:DeleteTable"]
    resources: ["*"]
    approval: { reviewers: [ann], holdTimeout: 1s }
    credentials: { roleArn: "${moto.roleArn}" }
  - name: open-reads
    effect: allow
    agents: ["*"]
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::open/*"]
    credentials: { roleArn: "${moto.roleArn}" }
`,
  };
}

describe('approval binding with real clients', { timeout: 180_000 }, () => {
  let moto: MotoServer;
  let cs: CountersignProcess;
  let agent: AgentKey;
  let annToken = '';

  beforeAll(async () => {
    moto = await startMoto();
    await seedS3(moto, 'held', { 'q1.csv': 'held q1\n' });
    await seedS3(moto, 'open', { 'a.csv': 'open a\n' });
    for (const region of ['us-east-1', 'eu-west-1']) {
      const [created] = await boto3Calls({ ...adminEnv(moto), AWS_DEFAULT_REGION: region }, [
        { service: 'dynamodb', op: 'create_table', params: { TableName: 'orders', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' } },
      ]);
      expect(created?.ok, JSON.stringify(created)).toBe(true);
    }
    cs = await startCountersign({ policies: policies(moto), env: countersignEnv(moto) });
    agent = cs.issueAgent('cli-bot');
    annToken = /COUNTERSIGN_REVIEWER_TOKEN=(\S+)/.exec(cs.cli(['reviewers', 'token', 'ann']))?.[1] ?? '';
    registerSecret(annToken);
  });

  afterAll(async () => {
    if (moto !== undefined) registerSecret(...(await assumedRoles(moto.endpoint)).flatMap((r) => [r.secret_access_key, r.session_token]));
    await cs?.stop();
    await moto?.stop();
  });

  const api = (method: string, suffix: string) => fetch(`${cs.reviewUrl}/api/v1/approvals${suffix}`, { method, headers: { authorization: `Bearer ${annToken}`, 'content-type': 'application/json' }, ...(method === 'POST' && { body: '{}' }) });
  const approvals = async (): Promise<ApiApproval[]> => ((await (await api('GET', '')).json()) as { approvals: ApiApproval[] }).approvals;

  async function pendingFor(predicate: (a: ApiApproval) => boolean): Promise<ApiApproval> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = (await approvals()).find((a) => a.status === 'pending' && predicate(a));
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error('no pending approval appeared');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('the AWS CLI’s `aws s3 cp s3://held/q1.csv -` (HeadObject, then GetObject) is one intent: one approval, one use', async () => {
    const copy = run(venvBin('aws'), ['s3', 'cp', 's3://held/q1.csv', '-'], { env: agentEnv(cs, agent) });
    const pending = await pendingFor((a) => a.context.resources.includes('arn:aws:s3:::held/q1.csv'));
    expect(pending).toMatchObject({ intent: 'read', context: { operation: 'HeadObject' } });
    expect((await api('POST', `/${pending.id}/approve`)).status).toBe(200);
    expect((await copy).stdout).toBe('held q1\n');
    const forwarded = await cs.waitForRequests((r) => r.approvalId === pending.id && r.upstreamStatus === 200, 2);
    expect(forwarded.map((r) => r.operation).sort()).toEqual(['GetObject', 'HeadObject']);
    // The same copy again, while the approval is valid: the same intent, no new request to review.
    expect((await run(venvBin('aws'), ['s3', 'cp', 's3://held/q1.csv', '-'], { env: agentEnv(cs, agent) })).stdout).toBe('held q1\n');
    const mine = (await approvals()).filter((a) => a.context.resources.includes('arn:aws:s3:::held/q1.csv'));
    expect(mine.map((a) => ({ id: a.id, status: a.status, usesLeft: a.usesLeft }))).toEqual([{ id: pending.id, status: 'approved', usesLeft: 0 }]);
  });

  const deleteTable = async (region: string): Promise<SignOptions & { headers: Record<string, string> }> => {
    const options: SignOptions = {
      accessKeyId: agent.accessKeyId,
      secretAccessKey: agent.secretAccessKey,
      service: 'dynamodb',
      region,
      method: 'POST',
      host: `127.0.0.1:${cs.port}`,
      path: '/',
      headers: { 'x-amz-target': 'DynamoDB_20120810.DeleteTable', 'content-type': 'application/x-amz-json-1.0' },
      body: '{"TableName":"orders"}',
    };
    return { ...options, headers: (await signedRequest(options)).headers };
  };
  const tableExists = async (region: string) => (await boto3Calls({ ...adminEnv(moto), AWS_DEFAULT_REGION: region }, [{ service: 'dynamodb', op: 'describe_table', params: { TableName: 'orders' } }]))[0]?.ok;

  it('a DeleteTable approved for us-east-1, replayed with the same bytes and Host signed for eu-west-1 in endpoint mode, is held anew and deletes nothing', async () => {
    const east = await deleteTable('us-east-1');
    const first = await send(cs.port, 'POST', '/', east.headers, east.body);
    expect(first.status).toBe(503);
    const id = String(first.headers['x-countersign-approval-id']);
    expect((await api('POST', `/${id}/approve`)).status).toBe(200);

    const west = await deleteTable('eu-west-1');
    const replay = await send(cs.port, 'POST', '/', west.headers, west.body);
    expect(replay.status).toBe(503);
    expect(JSON.parse(replay.body)).toMatchObject({ countersignCode: 'ApprovalPending' });
    expect(replay.headers['x-countersign-approval-id']).not.toBe(id);
    expect(await tableExists('eu-west-1')).toBe(true);
    expect(await tableExists('us-east-1')).toBe(true);

    const retry = await deleteTable('us-east-1');
    expect((await send(cs.port, 'POST', '/', retry.headers, retry.body)).status).toBe(200);
    expect(await tableExists('us-east-1')).toBe(false);
    expect(await tableExists('eu-west-1')).toBe(true);
  });

  it.each(['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override', 'X-Original-URL'])('refuses a request carrying %s (signed, and allowed by its method), forwarding nothing', async (header) => {
    const options: SignOptions = { accessKeyId: agent.accessKeyId, secretAccessKey: agent.secretAccessKey, service: 's3', host: `127.0.0.1:${cs.port}`, path: '/open/a.csv', headers: { [header.toLowerCase()]: header === 'X-Original-URL' ? '/held/q1.csv' : 'DELETE' } };
    const { headers } = await signedRequest(options);
    const response = await send(cs.port, 'GET', '/open/a.csv', headers);
    expect(response.status).toBe(400);
    expect(response.headers['x-countersign-error']).toBe('AmbiguousRequest');
    expect(response.body).toContain(header.toLowerCase());
    const [record] = await cs.waitForRequests((r) => r.errorCode === 'AmbiguousRequest' && typeof r.error === 'string' && r.error.includes(header.toLowerCase()));
    expect(record?.upstreamStatus).toBeUndefined();
  });

  it('two agents repeating the same allowed call never share an STS session: SourceIdentity and session name are each agent’s own', async () => {
    const first = cs.issueAgent('first-bot');
    const second = cs.issueAgent('second-bot');
    const getOpen = [{ service: 's3', op: 'get_object', params: { Bucket: 'open', Key: 'a.csv' }, read_body: true }];
    for (const key of [first, second, first]) expect((await boto3Calls(agentEnv(cs, key), getOpen))[0]).toMatchObject({ ok: true, result: { Body: 'open a\n' } });
    const records = await cs.waitForRequests((r) => (r.agent === 'first-bot' || r.agent === 'second-bot') && r.upstreamStatus === 200, 3);
    const sessions = records.map((r) => ({ agent: r.agent, session: String(r.stsSession), cached: r.credentialsCached }));
    expect(sessions[0]?.session.startsWith('cs.first-bot.')).toBe(true);
    expect(sessions[1]).toMatchObject({ agent: 'second-bot', cached: false });
    expect(sessions[1]?.session.startsWith('cs.second-bot.')).toBe(true);
    expect(sessions[2]).toMatchObject({ agent: 'first-bot', session: sessions[0]?.session, cached: true });
    const minted = (await assumedRoles(moto.endpoint)).map((r) => r.session_name);
    expect(minted.filter((name) => name.startsWith('cs.first-bot.'))).toHaveLength(1);
    expect(minted.filter((name) => name.startsWith('cs.second-bot.'))).toHaveLength(1);
  });
});
