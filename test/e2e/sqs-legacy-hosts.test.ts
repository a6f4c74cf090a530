// The AWS CLI v1 sends SQS calls to the hosts of endpoints.json's sslCommonName:
// `queue.amazonaws.com` in us-east-1, `<region>.queue.amazonaws.com` elsewhere
// (awscli/customizations/overridesslcommonname.py). Through HTTPS_PROXY countersign must take
// them as SQS hosts (src/aws/endpoint-hosts.json, generated from that data), decide and
// re-sign them; moto, with request authentication on, is the upstream.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls } from '../support/boto3.js';
import { agentEnv, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { adminEnv, countersignEnv, seedRoles, startMoto, type MotoServer } from '../support/moto.js';
import { venvBin } from '../support/python.js';

const run = promisify(execFile);
const QUEUE = 'legacy-host-queue';
const REGIONS = ['us-east-1', 'eu-west-1'] as const;
const ROLE = 'sqs-sender'; // the harness's target role may not use SQS

function policyYaml(moto: MotoServer): string {
  return `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: list-queues
    effect: allow
    agents: ["queue-agent"]
    actions: ["sqs:ListQueues"]
    resources: ["*"]
    credentials: { roleArn: "arn:aws:iam::${moto.accountId}:role/${ROLE}" }
  - name: send-to-the-queue
    effect: allow
    agents: ["queue-agent"]
    actions: ["sqs:SendMessage"]
    resources: [${REGIONS.map((r) => `"arn:aws:sqs:${r}:${moto.accountId}:${QUEUE}"`).join(', ')}]
    credentials: { roleArn: "arn:aws:iam::${moto.accountId}:role/${ROLE}" }
`;
}

describe('AWS CLI v1 SQS calls to its legacy queue hosts, through HTTPS_PROXY', { timeout: 120_000 }, () => {
  let moto: MotoServer;
  let cs: CountersignProcess;
  let agent: AgentKey;

  beforeAll(async () => {
    moto = await startMoto();
    await seedRoles(moto, [ROLE]);
    for (const region of REGIONS) {
      const [created] = await boto3Calls({ ...adminEnv(moto), AWS_DEFAULT_REGION: region }, [{ service: 'sqs', op: 'create_queue', params: { QueueName: QUEUE } }]);
      expect(created?.ok).toBe(true);
    }
    cs = await startCountersign({ policies: { 'sqs.yaml': policyYaml(moto) }, env: countersignEnv(moto) });
    agent = cs.issueAgent('queue-agent');
  }, 120_000);

  afterAll(async () => {
    await cs?.stop();
    await moto?.stop();
  });

  const aws = (region: string, args: string[]) => run(venvBin('aws'), ['sqs', ...args, '--region', region, '--output', 'json'], { env: agentEnv(cs, agent) });
  const legacyHost = (region: string) => (region === 'us-east-1' ? 'queue.amazonaws.com' : `${region}.queue.amazonaws.com`);

  it.each(REGIONS)('%s: list-queues and send-message go to the legacy host, are decided and reach moto', async (region) => {
    const host = legacyHost(region);
    const { stdout: listed } = await aws(region, ['list-queues']);
    const urls = (JSON.parse(listed) as { QueueUrls: string[] }).QueueUrls;
    expect(urls.some((url) => url.endsWith(`/${moto.accountId}/${QUEUE}`))).toBe(true);

    const queueUrl = `https://${host}/${moto.accountId}/${QUEUE}`;
    const { stdout: sent } = await aws(region, ['send-message', '--queue-url', queueUrl, '--message-body', `hello from ${region}`]);
    expect(JSON.parse(sent)).toHaveProperty('MessageId');

    const records = await cs.waitForRequests((r) => r.host === host && r.region === region && r.upstreamStatus === 200, 2);
    expect(records.map((r) => [r.operation, r.mode, r.decision])).toEqual([
      ['ListQueues', 'intercept', 'allow'],
      ['SendMessage', 'intercept', 'allow'],
    ]);
    expect(records[1]?.resources).toEqual([`arn:aws:sqs:${region}:${moto.accountId}:${QUEUE}`]);

    const [received] = await boto3Calls({ ...adminEnv(moto), AWS_DEFAULT_REGION: region }, [
      { service: 'sqs', op: 'receive_message', params: { QueueUrl: `${moto.endpoint}/${moto.accountId}/${QUEUE}`, WaitTimeSeconds: 1 } },
    ]);
    expect((received?.result?.Messages as Array<{ Body: string }> | undefined)?.map((m) => m.Body)).toEqual([`hello from ${region}`]);
  });

  it('a queue host is not an S3 host: SQS-signed calls to a bucket named queue are refused as misrouted', async () => {
    const outcome = await run(venvBin('aws'), ['sqs', 'list-queues', '--region', 'us-east-1', '--endpoint-url', 'https://queue.s3.amazonaws.com'], { env: agentEnv(cs, agent) }).catch((error: { stderr: string }) => error);
    expect('stderr' in outcome ? outcome.stderr : '').toContain('signed for service "sqs" but sent to queue.s3.amazonaws.com');
  });
});
