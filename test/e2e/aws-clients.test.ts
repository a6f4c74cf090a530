// The vertical slice end to end: real AWS clients (AWS CLI, boto3, AWS SDK for JavaScript v3)
// call AWS through countersign (HTTPS_PROXY and endpoint mode); moto, with request
// authentication on, is the STS/S3/DynamoDB upstream, so a wrong re-signature fails as AWS fails.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentEnv, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { assumedRoles } from '../support/moto-state.js';
import { countersignEnv, seedDynamoTable, seedS3, seedUntrustingRole, startMoto, type MotoServer } from '../support/moto.js';
import { repoRoot, venvBin } from '../support/python.js';
import { boto3Calls, type Boto3Outcome } from '../support/boto3.js';

const run = promisify(execFile);
const JS_SDK_CALLS = path.join(repoRoot, 'test', 'e2e', 'clients', 'js_sdk_calls.mjs');
const TRICKY_KEY = 'dir/with space+plus=eq:colon é.txt';

function policyYaml(moto: MotoServer): string {
  const role = moto.roleArn;
  return `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: no-secret-data
    effect: deny
    agents: ["*"]
    actions: ["s3:*"]
    resources: ["arn:aws:s3:::secret-data", "arn:aws:s3:::secret-data/*"]
  - name: reporter-reports
    effect: allow
    agents: ["reporter"]
    actions: ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]
    resources: ["arn:aws:s3:::reports", "arn:aws:s3:::reports/*", "arn:aws:s3:::secret-data/*"]
    credentials: { roleArn: "${role}" }
  - name: reporter-orders
    effect: allow
    agents: ["reporter"]
    actions: ["dynamodb:GetItem"]
    resources: ["arn:aws:dynamodb:us-east-1:${moto.accountId}:table/orders"]
    credentials: { roleArn: "${role}" }
  - name: whoami
    effect: allow
    agents: ["*"]
    actions: ["sts:GetCallerIdentity"]
    resources: ["*"]
    credentials: { roleArn: "${role}" }
  - name: untrusted-role
    effect: allow
    agents: ["reporter"]
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::untrusted/*"]
    credentials: { roleArn: "arn:aws:iam::${moto.accountId}:role/untrusting" }
`;
}

describe('AWS clients through countersign', { timeout: 120_000 }, () => {
  let moto: MotoServer;
  let cs: CountersignProcess;
  let reporter: AgentKey;

  beforeAll(async () => {
    moto = await startMoto();
    await seedS3(moto, 'reports', { 'a/b.txt': 'hello from reports\n', [TRICKY_KEY]: 'tricky key body', 'cache/once.txt': 'cached' });
    await seedS3(moto, 'secret-data', { 'x.txt': 'top secret' });
    await seedDynamoTable(moto, 'orders');
    await seedUntrustingRole(moto, 'untrusting');
    cs = await startCountersign({
      policies: { 'test.yaml': policyYaml(moto) },
      env: countersignEnv(moto),
    });
    reporter = cs.issueAgent('reporter');
  }, 120_000);

  afterAll(async () => {
    await cs?.stop();
    await moto?.stop();
  });

  function boto3(calls: unknown[], extraEnv: Record<string, string> = {}): Promise<Boto3Outcome[]> {
    return boto3Calls(agentEnv(cs, reporter, extraEnv), calls);
  }

  it('AWS CLI: aws s3 cp s3://bucket/key - through HTTPS_PROXY, re-signed with single-action credentials', async () => {
    const { stdout } = await run(venvBin('aws'), ['s3', 'cp', 's3://reports/a/b.txt', '-'], { env: agentEnv(cs, reporter) });
    expect(stdout).toBe('hello from reports\n');

    const [record] = await cs.waitForRequests((r) => r.operation === 'GetObject' && r.agent === 'reporter');
    expect(record).toMatchObject({
      agent: 'reporter',
      service: 's3',
      actions: ['s3:GetObject'],
      resources: ['arn:aws:s3:::reports/a/b.txt'],
      rules: ['reporter-reports'],
      decision: 'allow',
      upstreamStatus: 200,
      status: 200,
      mode: 'intercept',
    });
    // The session name carries the request that minted it (the CLI's HeadObject before the
    // GetObject; the GetObject reuses the cached credentials), so CloudTrail leads back to it.
    const minting = cs.requests().find((r) => r.stsSession === record?.stsSession && r.credentialsCached === false);
    expect(record?.stsSession).toBe(`cs.reporter.${String(minting?.requestId)}`);
    expect(record?.durationsMs).toHaveProperty('total');

    const session = (await assumedRoles(moto.endpoint)).find((r) => r.session_name === record?.stsSession);
    expect(session?.role_arn).toBe(moto.roleArn);
    expect(JSON.parse(session?.policy ?? '{}')).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::reports/a/b.txt' }],
    });
  });

  it('AWS CLI: uploads a file through HTTPS_PROXY', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cs-upload-'));
    const file = path.join(dir, 'upload.txt');
    writeFileSync(file, 'uploaded through countersign\n'.repeat(1000));
    await run(venvBin('aws'), ['s3', 'cp', file, 's3://reports/uploads/upload.txt'], { env: agentEnv(cs, reporter) });
    const [read] = await boto3([{ service: 's3', op: 'get_object', params: { Bucket: 'reports', Key: 'uploads/upload.txt' }, read_body: true }]);
    expect(read?.result?.Body).toBe(readFileSync(file, 'utf8'));
  });

  it('boto3: S3, DynamoDB and STS calls, allowed and re-signed', async () => {
    const outcomes = await boto3([
      { service: 's3', op: 'get_object', params: { Bucket: 'reports', Key: TRICKY_KEY }, read_body: true },
      { service: 's3', op: 'head_object', params: { Bucket: 'reports', Key: 'a/b.txt' } },
      { service: 's3', op: 'list_objects_v2', params: { Bucket: 'reports', Prefix: 'a/' } },
      { service: 's3', op: 'put_object', params: { Bucket: 'reports', Key: 'boto3/new.txt', Body: 'new body' } },
      { service: 'dynamodb', op: 'get_item', params: { TableName: 'orders', Key: { pk: { S: 'k1' } } } },
      { service: 'sts', op: 'get_caller_identity' },
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, true, true, true, true]);
    expect(outcomes[0]?.result?.Body).toBe('tricky key body');
    expect(outcomes[1]?.result?.ContentLength).toBe(19);
    expect((outcomes[2]?.result?.Contents as Array<{ Key: string }>).map((c) => c.Key)).toEqual(['a/b.txt']);
    expect(outcomes[4]?.result?.Item).toEqual({ pk: { S: 'k1' }, v: { S: 'hello' } });
    expect(String(outcomes[5]?.result?.Arn)).toMatch(/^arn:aws:sts::\d{12}:assumed-role\/countersign-target\/cs\.reporter\./);

    const [dynamo] = await cs.waitForRequests((r) => r.operation === 'GetItem');
    expect(dynamo?.resources).toEqual([`arn:aws:dynamodb:us-east-1:${moto.accountId}:table/orders`]);
    const policies = (await assumedRoles(moto.endpoint)).map((r) => JSON.parse(r.policy ?? '{}') as { Statement: unknown[] });
    expect(policies).toContainEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::reports/${TRICKY_KEY}` }],
    });
    expect(policies).toContainEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: `arn:aws:dynamodb:us-east-1:${moto.accountId}:table/orders` }],
    });
  });

  it('boto3: denied and unmatched requests get an AWS-shaped AccessDenied naming rule, action, resource and request id', async () => {
    const [denied, unmatched, dynamo, unallowed] = await boto3([
      { service: 's3', op: 'get_object', params: { Bucket: 'secret-data', Key: 'x.txt' } },
      { service: 's3', op: 'get_object', params: { Bucket: 'elsewhere', Key: 'y.txt' } },
      { service: 'dynamodb', op: 'get_item', params: { TableName: 'payments', Key: { pk: { S: 'k1' } } } },
      { service: 's3', op: 'delete_object', params: { Bucket: 'reports', Key: 'a/b.txt' } },
    ]);
    expect(denied).toMatchObject({ ok: false, code: 'AccessDenied', status: 403 });
    expect(denied?.message).toContain('s3:GetObject on arn:aws:s3:::secret-data/x.txt: denied by rule "no-secret-data" (RULE_DENIED)');
    expect(denied?.message).toMatch(/Request id [0-9a-f-]{36}/);
    expect(unmatched).toMatchObject({ ok: false, code: 'AccessDenied', status: 403 });
    expect(unmatched?.message).toContain('s3:GetObject on arn:aws:s3:::elsewhere/y.txt: no rule matched (NO_RULE_MATCHED)');
    expect(dynamo).toMatchObject({ ok: false, code: 'AccessDeniedException', status: 403 });
    expect(dynamo?.message).toContain('dynamodb:GetItem on arn:aws:dynamodb:us-east-1::table/payments: no rule matched');
    expect(unallowed).toMatchObject({ ok: false, code: 'AccessDenied' });
    expect(unallowed?.message).toContain('s3:DeleteObject');
    // The object is still there: nothing was forwarded.
    const [still] = await boto3([{ service: 's3', op: 'head_object', params: { Bucket: 'reports', Key: 'a/b.txt' } }]);
    expect(still?.ok).toBe(true);
  });

  it('calls STS once per (role, scope) while the credentials last', async () => {
    const read = { service: 's3', op: 'get_object', params: { Bucket: 'reports', Key: 'cache/once.txt' }, read_body: true };
    const outcomes = await boto3([read, read, read]);
    expect(outcomes.map((o) => o.result?.Body)).toEqual(['cached', 'cached', 'cached']);
    const records = await cs.waitForRequests((r) => (r.resources as string[] | undefined)?.[0] === 'arn:aws:s3:::reports/cache/once.txt', 3);
    expect(records.map((r) => r.credentialsCached)).toEqual([false, true, true]);
    expect(new Set(records.map((r) => r.stsSession)).size).toBe(1);
    const minted = (await assumedRoles(moto.endpoint)).filter((r) => r.policy?.includes('reports/cache/once.txt'));
    expect(minted).toHaveLength(1);
  });

  it('STS refusing the AssumeRole reaches the agent in AWS shape', async () => {
    const [outcome] = await boto3([{ service: 's3', op: 'get_object', params: { Bucket: 'untrusted', Key: 'k' } }]);
    expect(outcome).toMatchObject({ ok: false, code: 'AccessDenied', status: 403 });
    expect(outcome?.message).toContain('STS refused AssumeRole into arn:aws:iam::');
    expect(outcome?.message).toContain('untrusting');
  });

  async function jsSdk(calls: unknown[], extraEnv: Record<string, string>): Promise<Array<Record<string, unknown>>> {
    const env = { ...agentEnv(cs, reporter, extraEnv), NODE_EXTRA_CA_CERTS: cs.caPath };
    const { stdout } = await run(process.execPath, [JS_SDK_CALLS, JSON.stringify(calls)], { env, cwd: repoRoot });
    return JSON.parse(stdout) as Array<Record<string, unknown>>;
  }

  const JS_CALLS = [
    { op: 'GetObject', params: { Bucket: 'reports', Key: TRICKY_KEY } },
    { op: 'GetItem', params: { TableName: 'orders', Key: { pk: { S: 'k1' } } } },
    { op: 'GetObject', params: { Bucket: 'secret-data', Key: 'x.txt' } },
  ];

  it('AWS SDK for JavaScript v3 through HTTPS_PROXY (with a proxy agent)', async () => {
    const [object, item, denied] = await jsSdk(JS_CALLS, {});
    expect(object).toEqual({ ok: true, body: 'tricky key body' });
    expect(item).toEqual({ ok: true, item: { pk: { S: 'k1' }, v: { S: 'hello' } } });
    expect(denied).toMatchObject({ ok: false, name: 'AccessDenied', status: 403 });
    expect(String(denied?.message)).toContain('denied by rule "no-secret-data"');
  });

  it('AWS SDK for JavaScript v3 in endpoint mode (AWS_ENDPOINT_URL), routed by the signature scope', async () => {
    const [object, item, denied] = await jsSdk(JS_CALLS, { AWS_ENDPOINT_URL: cs.proxyUrl, HTTPS_PROXY: '', https_proxy: '' });
    expect(object).toEqual({ ok: true, body: 'tricky key body' });
    expect(item).toEqual({ ok: true, item: { pk: { S: 'k1' }, v: { S: 'hello' } } });
    expect(denied).toMatchObject({ ok: false, name: 'AccessDenied', status: 403 });
    expect(await cs.waitForRequests((r) => r.mode === 'endpoint' && r.operation === 'GetItem' && r.decision === 'allow')).not.toHaveLength(0);
  });

  it('boto3 in endpoint mode (AWS_ENDPOINT_URL), routed by the signature scope', async () => {
    const [read] = await boto3(
      [{ service: 's3', op: 'get_object', params: { Bucket: 'reports', Key: 'a/b.txt' }, read_body: true }],
      { AWS_ENDPOINT_URL: cs.proxyUrl, HTTPS_PROXY: '', https_proxy: '' },
    );
    expect(read?.result?.Body).toBe('hello from reports\n');
  });

  it('writes one audit line per request, and no secret reaches any log line', async () => {
    const requests = cs.requests();
    expect(requests.length).toBeGreaterThan(10);
    for (const record of requests) {
      expect(record).toHaveProperty('requestId');
      expect(record).toHaveProperty('status');
    }
    const minted = await assumedRoles(moto.endpoint);
    expect(minted.length).toBeGreaterThan(3);
    const secrets = [
      reporter.secretAccessKey,
      moto.admin.secretAccessKey,
      ...minted.flatMap((r) => [r.secret_access_key, r.session_token]),
    ];
    registerSecret(...secrets); // for the suite-wide check (test/secrets)
    const logs = cs.stdout() + cs.stderr();
    for (const secret of secrets) expect(logs.includes(secret), 'a secret appeared in the logs').toBe(false);
    expect(logs).not.toMatch(/Signature=[0-9a-f]{64}/);
    expect(logs).not.toContain('FQoGZXIvYXdz');
  });
});
