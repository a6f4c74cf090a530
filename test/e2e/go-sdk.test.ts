// The AWS SDK for Go v2 through countersign, HTTPS_PROXY and endpoint mode, against moto with
// authentication on: S3 put/get/list/delete, a multipart upload by manager.Uploader, DynamoDB,
// SQS. The client is test/e2e/clients/go (its own go.mod, modules from the Go module proxy),
// built here; .ci/run builds it once before npm test, so this build finds Go's cache warm.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls } from '../support/boto3.js';
import { agentEnv, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { adminEnv, countersignEnv, seedDynamoTable, seedRoles, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { repoRoot } from '../support/python.js';

const run = promisify(execFile);
const CLIENT_DIR = path.join(repoRoot, 'test', 'e2e', 'clients', 'go');
const BUCKET = 'go-data';
const TABLE = 'go-orders';
const QUEUE = 'go-jobs';
const ROLE = 'go-sdk-target'; // the harness's target role may not use SQS
const MiB = 1024 * 1024;

function policyYaml(moto: MotoServer): string {
  const role = `arn:aws:iam::${moto.accountId}:role/${ROLE}`;
  return `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: go-bucket
    effect: allow
    agents: ["go-agent"]
    actions: ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources: ["arn:aws:s3:::${BUCKET}", "arn:aws:s3:::${BUCKET}/*"]
    credentials: { roleArn: "${role}" }
  - name: go-table
    effect: allow
    agents: ["go-agent"]
    actions: ["dynamodb:PutItem", "dynamodb:GetItem"]
    resources: ["arn:aws:dynamodb:us-east-1:${moto.accountId}:table/${TABLE}"]
    credentials: { roleArn: "${role}" }
  - name: go-queue
    effect: allow
    agents: ["go-agent"]
    actions: ["sqs:GetQueueUrl", "sqs:SendMessage", "sqs:ReceiveMessage"]
    resources: ["arn:aws:sqs:us-east-1:${moto.accountId}:${QUEUE}"]
    credentials: { roleArn: "${role}" }
`;
}

interface GoOutcome {
  ok: boolean;
  result?: Record<string, unknown>;
  code?: string;
  message?: string;
  status?: number;
}

describe('AWS SDK for Go v2 through countersign', { timeout: 180_000 }, () => {
  let moto: MotoServer;
  let cs: CountersignProcess;
  let agent: AgentKey;
  let work: string;
  let client: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'cs-go-sdk-'));
    client = path.join(work, 'go-sdk-calls');
    // A cold build fetches the modules and compiles the SDK (about 90 s on 2 cores); warm, a second.
    const building = run('go', ['build', '-o', client, '.'], { cwd: CLIENT_DIR, timeout: 600_000, env: { ...process.env, GOTOOLCHAIN: 'auto', GOFLAGS: '-mod=readonly' } });
    building.catch(() => {}); // awaited below, after moto and countersign start alongside
    moto = await startMoto();
    await seedRoles(moto, [ROLE]);
    await seedS3(moto, BUCKET, { 'seeded.txt': 'seeded for go' });
    await seedDynamoTable(moto, TABLE);
    const [queue] = await boto3Calls(adminEnv(moto), [{ service: 'sqs', op: 'create_queue', params: { QueueName: QUEUE } }]);
    expect(queue?.ok).toBe(true);
    cs = await startCountersign({ policies: { 'go.yaml': policyYaml(moto) }, env: countersignEnv(moto) });
    agent = cs.issueAgent('go-agent');
    await building;
  }, 600_000);

  afterAll(async () => {
    await cs?.stop();
    await moto?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  const modes = {
    proxy: { env: () => agentEnv(cs, agent), record: 'intercept' },
    endpoint: { env: () => agentEnv(cs, agent, { AWS_ENDPOINT_URL: cs.proxyUrl, HTTPS_PROXY: '', https_proxy: '' }), record: 'endpoint' },
  } as const;

  async function goCalls(env: Record<string, string>, calls: unknown[]): Promise<GoOutcome[]> {
    const { stdout } = await run(client, [JSON.stringify(calls)], { env, timeout: 120_000, maxBuffer: 16 * MiB });
    return JSON.parse(stdout) as GoOutcome[];
  }

  describe.each(['proxy', 'endpoint'] as const)('%s mode', (mode) => {
    const key = `${mode}/object.txt`;

    it('S3: put, get, list, delete', async () => {
      const outcomes = await goCalls(modes[mode].env(), [
        { op: 's3.PutObject', params: { bucket: BUCKET, key, body: `written by go, ${mode}` } },
        { op: 's3.GetObject', params: { bucket: BUCKET, key } },
        { op: 's3.ListObjectsV2', params: { bucket: BUCKET, prefix: `${mode}/` } },
        { op: 's3.DeleteObject', params: { bucket: BUCKET, key } },
        { op: 's3.ListObjectsV2', params: { bucket: BUCKET, prefix: `${mode}/` } },
      ]);
      expect(outcomes.map((o) => o.ok), JSON.stringify(outcomes)).toEqual([true, true, true, true, true]);
      expect(outcomes[1]?.result?.body).toBe(`written by go, ${mode}`);
      expect(outcomes[2]?.result?.keys).toEqual([key]);
      expect(outcomes[4]?.result?.keys).toEqual([]);
      const records = await cs.waitForRequests((r) => r.mode === modes[mode].record && r.agent === 'go-agent' && r.operation === 'DeleteObject' && r.upstreamStatus === 204);
      expect(records).toHaveLength(1);
    });

    it('S3: a 12 MiB multipart upload by manager.Uploader, three parts decided and re-signed each', async () => {
      const upload = `${mode}/multipart.bin`;
      const outcomes = await goCalls(modes[mode].env(), [
        { op: 's3.Upload', params: { bucket: BUCKET, key: upload, size: 12 * MiB, partSize: 5 * MiB } },
        { op: 's3.HeadObject', params: { bucket: BUCKET, key: upload } },
      ]);
      expect(outcomes.map((o) => o.ok), JSON.stringify(outcomes)).toEqual([true, true]);
      expect(outcomes[0]?.result).toMatchObject({ parts: 3 });
      expect(outcomes[1]?.result?.contentLength).toBe(12 * MiB);
      const mine = (operation: string) => (r: Record<string, unknown>) => r.mode === modes[mode].record && r.operation === operation && (r.resources as string[] | undefined)?.[0] === `arn:aws:s3:::${BUCKET}/${upload}` && r.upstreamStatus === 200;
      expect(await cs.waitForRequests(mine('UploadPart'), 3)).toHaveLength(3);
      expect(await cs.waitForRequests(mine('CreateMultipartUpload'))).toHaveLength(1);
      expect(await cs.waitForRequests(mine('CompleteMultipartUpload'))).toHaveLength(1);
    });

    it('DynamoDB: put and get an item', async () => {
      const outcomes = await goCalls(modes[mode].env(), [
        { op: 'dynamodb.PutItem', params: { table: TABLE, pk: `go-${mode}`, value: 'from go' } },
        { op: 'dynamodb.GetItem', params: { table: TABLE, pk: `go-${mode}` } },
        { op: 'dynamodb.GetItem', params: { table: TABLE, pk: 'k1' } },
      ]);
      expect(outcomes.map((o) => o.ok), JSON.stringify(outcomes)).toEqual([true, true, true]);
      expect(outcomes[1]?.result?.item).toEqual({ pk: `go-${mode}`, v: 'from go' });
      expect(outcomes[2]?.result?.item).toEqual({ pk: 'k1', v: 'hello' });
    });

    it('SQS: the queue URL from GetQueueUrl, a message sent to it and received', async () => {
      const [url] = await goCalls(modes[mode].env(), [{ op: 'sqs.GetQueueUrl', params: { queue: QUEUE } }]);
      const queueUrl = String(url?.result?.queueUrl);
      expect(queueUrl).toMatch(new RegExp(`/${moto.accountId}/${QUEUE}$`));
      const outcomes = await goCalls(modes[mode].env(), [
        { op: 'sqs.SendMessage', params: { queueUrl, body: `go says hi, ${mode}` } },
        { op: 'sqs.ReceiveMessage', params: { queueUrl } },
      ]);
      expect(outcomes.map((o) => o.ok), JSON.stringify(outcomes)).toEqual([true, true]);
      expect(outcomes[1]?.result?.bodies).toEqual([`go says hi, ${mode}`]);
      // Every call went through countersign, none to the queue URL's own host.
      const records = await cs.waitForRequests((r) => r.mode === modes[mode].record && r.service === 'sqs' && r.upstreamStatus === 200, 3);
      expect(records.map((r) => r.operation)).toEqual(expect.arrayContaining(['GetQueueUrl', 'SendMessage', 'ReceiveMessage']));
    });
  });

  it('an operation no rule allows is refused with countersign\'s AccessDenied in Go\'s error', async () => {
    const [denied] = await goCalls(modes.proxy.env(), [{ op: 's3.GetObject', params: { bucket: 'not-allowed', key: 'x' } }]);
    expect(denied).toMatchObject({ ok: false, code: 'AccessDenied', status: 403 });
    expect(denied?.message).toContain('no rule matched');
  });
});
