// Services beyond S3 through countersign, each in the protocol its SDK speaks: DynamoDB (JSON),
// SQS in JSON (boto3 today) and in the query protocol (older SDKs and tools), Lambda (REST-JSON
// with a binary payload) and IAM (query, global endpoint). Real boto3/botocore clients go
// through HTTPS_PROXY; moto (request authentication on) checks countersign's re-signature and
// answers; each call must be allowed by policy, minted with exactly its grants and stored by moto.
// (S3's signing variants: test/e2e/s3-resigning.test.ts.)
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls as boto3 } from '../support/boto3.js';
import { agentEnv, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { assumedRoles } from '../support/moto-state.js';
import { adminEnv, countersignEnv, seedDynamoTable, startMoto, type MotoServer } from '../support/moto.js';
import { venvBin } from '../support/python.js';

const run = promisify(execFile);
const REGION = 'us-east-1';
const BROAD_ROLE = 'countersign-broad'; // the harness's target role may not use SQS, Lambda or iam:CreateRole

function policyYaml(moto: MotoServer, broadRoleArn: string): string {
  const account = moto.accountId;
  const rule = (name: string, actions: string[], resources: string[], roleArn: string) => `  - name: ${name}
    effect: allow
    agents: ["svc-agent"]
    actions: ${JSON.stringify(actions)}
    resources: ${JSON.stringify(resources)}
    credentials: { roleArn: "${roleArn}" }
`;
  return `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
${rule('items', ['dynamodb:PutItem', 'dynamodb:GetItem'], [`arn:aws:dynamodb:${REGION}:${account}:table/agent-items`], moto.roleArn)}${rule('jobs', ['sqs:SendMessage'], [`arn:aws:sqs:${REGION}:${account}:agent-jobs`], broadRoleArn)}${rule('functions', ['lambda:CreateFunction', 'lambda:UpdateFunctionConfiguration'], [`arn:aws:lambda:${REGION}:${account}:function:agent-fn`], broadRoleArn)}${rule('pass-function-role', ['iam:PassRole'], [moto.roleArn], broadRoleArn)}${rule('roles', ['iam:CreateRole', 'iam:GetRole'], [`arn:aws:iam::${account}:role/agent-made-*`, `arn:aws:iam::${account}:role/agents/agent-made-*`], broadRoleArn)}`;
}

// SendMessage in the query protocol: a form POST signed with botocore's SigV4Auth, sent with
// requests through HTTPS_PROXY, trusting AWS_CA_BUNDLE.
const SQS_QUERY_SEND = `
import json, os, sys
from urllib.parse import urlencode
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
a = json.loads(sys.argv[1])
form = urlencode({'Action': 'SendMessage', 'QueueUrl': a['queueUrl'], 'MessageBody': a['body'], 'Version': '2012-11-05'})
request = AWSRequest(method='POST', url='https://sqs.us-east-1.amazonaws.com/', data=form,
                     headers={'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'})
SigV4Auth(Credentials(os.environ['AWS_ACCESS_KEY_ID'], os.environ['AWS_SECRET_ACCESS_KEY']), 'sqs', 'us-east-1').add_auth(request)
prepared = request.prepare()
response = requests.post(prepared.url, data=prepared.body, headers=dict(prepared.headers), verify=os.environ['AWS_CA_BUNDLE'],
                         proxies={'https': os.environ['HTTPS_PROXY']})
print(json.dumps({'status': response.status_code, 'body': response.text}))
`;

// CreateFunction with a real zip (binary, base64 in the JSON body), then UpdateFunctionConfiguration.
// (Not GetFunction: moto with authentication on rejects Lambda's GETs, from any client, because
// it hashes a GET's query, or without one its headers, as if they were a form body.)
const LAMBDA_CREATE_UPDATE = `
import base64, hashlib, io, json, sys, zipfile
import boto3
from botocore.config import Config
a = json.loads(sys.argv[1])
code = io.BytesIO()
with zipfile.ZipFile(code, 'w') as z:
    z.writestr('handler.py', 'def handle(event, context):\\n    return event\\n')
client = boto3.client('lambda', config=Config(retries={'max_attempts': 1}))
created = client.create_function(FunctionName=a['name'], Runtime='python3.12', Role=a['role'], Handler='handler.handle',
                                 Code={'ZipFile': code.getvalue()})
updated = client.update_function_configuration(FunctionName=a['name'], Description=a['description'])
print(json.dumps({'arn': created['FunctionArn'], 'codeSha256': created['CodeSha256'], 'description': updated['Description'],
                  'zipSha256': base64.b64encode(hashlib.sha256(code.getvalue()).digest()).decode()}))
`;

async function python<T>(args: string[], env: Record<string, string>): Promise<T> {
  const { stdout } = await run(venvBin('python'), args, { env });
  return JSON.parse(stdout) as T;
}

const snippet = <T>(code: string, input: unknown, env: Record<string, string>) => python<T>(['-c', code, JSON.stringify(input)], env);

/** An IAM role countersign's identity may assume, allowed everything in moto. */
async function seedBroadRole(moto: MotoServer): Promise<string> {
  const admin = adminEnv(moto);
  const [identity] = await boto3(admin, [{ service: 'sts', op: 'get_caller_identity' }]);
  const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: [identity?.result?.Arn] }, Action: 'sts:AssumeRole' }] };
  const everything = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
  const [role, policy] = await boto3(admin, [
    { service: 'iam', op: 'create_role', params: { RoleName: BROAD_ROLE, AssumeRolePolicyDocument: JSON.stringify(trust) } },
    { service: 'iam', op: 'put_role_policy', params: { RoleName: BROAD_ROLE, PolicyName: 'everything', PolicyDocument: JSON.stringify(everything) } },
  ]);
  if (role?.ok !== true || policy?.ok !== true) throw new Error(`seeding ${BROAD_ROLE} failed: ${JSON.stringify([role, policy])}`);
  return String((role.result?.Role as { Arn: string }).Arn);
}

describe('every service through countersign: DynamoDB, SQS (JSON and query), Lambda, IAM', { timeout: 120_000 }, () => {
  let moto: MotoServer;
  let cs: CountersignProcess;
  let agent: AgentKey;
  let broadRoleArn: string;
  let queueUrl: string; // as the agent names the queue: its AWS URL

  beforeAll(async () => {
    moto = await startMoto();
    await seedDynamoTable(moto, 'agent-items');
    broadRoleArn = await seedBroadRole(moto);
    await boto3(adminEnv(moto), [{ service: 'sqs', op: 'create_queue', params: { QueueName: 'agent-jobs' } }]);
    queueUrl = `https://sqs.${REGION}.amazonaws.com/${moto.accountId}/agent-jobs`;
    cs = await startCountersign({
      policies: { 'services.yaml': policyYaml(moto, broadRoleArn) },
      env: countersignEnv(moto),
    });
    agent = cs.issueAgent('svc-agent');
  }, 120_000);

  afterAll(async () => {
    try {
      await cs?.stop();
    } finally {
      await moto?.stop();
    }
  });

  const asAgent = (calls: unknown[]) => boto3(agentEnv(cs, agent), calls);
  const inMoto = (calls: unknown[]) => boto3(adminEnv(moto), calls);

  /** The audit record of a forwarded call: allowed, with these grants, answered by moto. */
  async function expectForwarded(service: string, operation: string, grants: Array<[action: string, resource: string]>, status = 200): Promise<Record<string, unknown>> {
    const resources = grants.map(([, resource]) => resource);
    const [record] = await cs.waitForRequests((r) => r.service === service && r.operation === operation && JSON.stringify(r.resources) === JSON.stringify(resources));
    const seen = cs.requests().filter((r) => r.operation === operation);
    expect(record, `${service}:${operation} on ${resources.join(', ')}; records of ${operation}: ${JSON.stringify(seen)}`).toMatchObject({
      agent: 'svc-agent',
      decision: 'allow',
      actions: grants.map(([action]) => action),
      upstreamStatus: status,
      status,
    });
    return record ?? {};
  }

  /** ... and the credentials it went out with allowed exactly these grants, one statement each. */
  async function expectForwardedAndMinted(service: string, operation: string, grants: Array<[action: string, resource: string]>): Promise<void> {
    const record = await expectForwarded(service, operation, grants);
    const session = (await assumedRoles(moto.endpoint)).find((r) => r.session_name === record.stsSession);
    expect(JSON.parse(session?.policy ?? '{}')).toEqual({
      Version: '2012-10-17',
      Statement: grants.map(([action, resource]) => ({ Effect: 'Allow', Action: action, Resource: resource })),
    });
  }

  it('DynamoDB (JSON protocol): PutItem and GetItem', async () => {
    const table = `arn:aws:dynamodb:${REGION}:${moto.accountId}:table/agent-items`;
    const item = { pk: { S: 'from-agent' }, note: { S: 'written through countersign' } };
    const [put, get] = await asAgent([
      { service: 'dynamodb', op: 'put_item', params: { TableName: 'agent-items', Item: item } },
      { service: 'dynamodb', op: 'get_item', params: { TableName: 'agent-items', Key: { pk: { S: 'from-agent' } } } },
    ]);
    expect(put?.ok).toBe(true);
    expect(get?.result?.Item).toEqual(item);
    const [stored] = await inMoto([{ service: 'dynamodb', op: 'get_item', params: { TableName: 'agent-items', Key: { pk: { S: 'from-agent' } } } }]);
    expect(stored?.result?.Item).toEqual(item);
    await expectForwardedAndMinted('dynamodb', 'PutItem', [['dynamodb:PutItem', table]]);
    await expectForwardedAndMinted('dynamodb', 'GetItem', [['dynamodb:GetItem', table]]);
  });

  it('SQS in both protocols: SendMessage as JSON (boto3) and as a signed form POST (query); both messages reach the queue', async () => {
    const [json] = await asAgent([{ service: 'sqs', op: 'send_message', params: { QueueUrl: queueUrl, MessageBody: 'sent as JSON' } }]);
    expect(json?.ok, JSON.stringify(json)).toBe(true);
    const query = await snippet<{ status: number; body: string }>(SQS_QUERY_SEND, { queueUrl, body: 'sent as a query' }, agentEnv(cs, agent));
    expect(query.status, query.body).toBe(200);
    expect(query.body).toContain('<SendMessageResponse');
    expect(query.body).toContain('<MD5OfMessageBody>');

    const [received] = await inMoto([{ service: 'sqs', op: 'receive_message', params: { QueueUrl: `${moto.endpoint}/${moto.accountId}/agent-jobs`, MaxNumberOfMessages: 10 } }]);
    expect((received?.result?.Messages as Array<{ Body: string }>).map((m) => m.Body).sort()).toEqual(['sent as JSON', 'sent as a query']);
    const records = await cs.waitForRequests((r) => r.service === 'sqs' && r.operation === 'SendMessage', 2);
    expect(records.map((r) => [r.decision, r.upstreamStatus, r.resources])).toEqual(Array(2).fill(['allow', 200, [`arn:aws:sqs:${REGION}:${moto.accountId}:agent-jobs`]]));

    // A queue no rule names is refused in the query protocol's shape, and not forwarded.
    const other = await snippet<{ status: number; body: string }>(SQS_QUERY_SEND, { queueUrl: queueUrl.replace('agent-jobs', 'payroll'), body: 'x' }, agentEnv(cs, agent));
    expect(other.status).toBe(403);
    expect(other.body).toContain('<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>');
    expect(other.body).toContain(`sqs:SendMessage on arn:aws:sqs:${REGION}:${moto.accountId}:payroll: no rule matched`);
    const [refused] = await cs.waitForRequests((r) => r.operation === 'SendMessage' && r.decision === 'deny');
    expect(refused).toMatchObject({ event: 'request.failed', status: 403 });
    expect(refused).not.toHaveProperty('upstreamStatus');
  });

  const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
  const roleArn = (name: string) => `arn:aws:iam::${moto.accountId}:role/${name}`;

  it('IAM (query protocol, global endpoint): CreateRole, as SDKs send it (no Path), and GetRole', async () => {
    const [created, got] = await asAgent([
      { service: 'iam', op: 'create_role', params: { RoleName: 'agent-made-role', AssumeRolePolicyDocument: trust } },
      { service: 'iam', op: 'get_role', params: { RoleName: 'agent-made-role' } },
    ]);
    expect(created?.ok, JSON.stringify(created)).toBe(true);
    expect((got?.result?.Role as { Arn?: string } | undefined)?.Arn).toBe(roleArn('agent-made-role'));
    const [stored] = await inMoto([{ service: 'iam', op: 'get_role', params: { RoleName: 'agent-made-role' } }]);
    expect((stored?.result?.Role as { Arn?: string } | undefined)?.Arn).toBe(roleArn('agent-made-role'));
    await expectForwardedAndMinted('iam', 'CreateRole', [['iam:CreateRole', roleArn('agent-made-role')]]);
    await expectForwardedAndMinted('iam', 'GetRole', [['iam:GetRole', roleArn('agent-made-role')]]);
  });

  it('IAM: CreateRole with a Path', async () => {
    const [created] = await asAgent([{ service: 'iam', op: 'create_role', params: { RoleName: 'agent-made-pathed', Path: '/agents/', AssumeRolePolicyDocument: trust } }]);
    expect(created?.ok, JSON.stringify(created)).toBe(true);
    const [stored] = await inMoto([{ service: 'iam', op: 'get_role', params: { RoleName: 'agent-made-pathed' } }]);
    expect((stored?.result?.Role as { Arn?: string } | undefined)?.Arn).toBe(roleArn('agents/agent-made-pathed'));
    await expectForwardedAndMinted('iam', 'CreateRole', [['iam:CreateRole', roleArn('agents/agent-made-pathed')]]);
  });

  // Last: once a function exists, moto's /moto-api/data.json (the minted session policies) fails
  // without docker (LambdaFunction.docker_client), so this test reads moto's answers instead.
  it('Lambda (REST-JSON): CreateFunction with a zip, passing its role, then UpdateFunctionConfiguration', async () => {
    const fn = `arn:aws:lambda:${REGION}:${moto.accountId}:function:agent-fn`;
    const input = { name: 'agent-fn', role: moto.roleArn, description: 'configured through countersign' };
    const result = await snippet<{ arn: string; codeSha256: string; description: string; zipSha256: string }>(LAMBDA_CREATE_UPDATE, input, agentEnv(cs, agent));
    // moto hashed the zip it received, and found the function again to update it.
    expect(result).toMatchObject({ arn: fn, codeSha256: result.zipSha256, description: input.description });
    await expectForwarded('lambda', 'CreateFunction', [['lambda:CreateFunction', fn], ['iam:PassRole', moto.roleArn]], 201);
    await expectForwarded('lambda', 'UpdateFunctionConfiguration', [['lambda:UpdateFunctionConfiguration', fn]]);
  });
});
