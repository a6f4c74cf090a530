// Requests without a body, through both modes against moto with authentication on: the AWS
// CLI's `s3 rm` and `s3 rb` and boto3's delete_object / delete_bucket (botocore sends
// `Content-Length: 0` on a bodiless DELETE), and hand-signed GET, HEAD and DELETE requests
// with the framing an SDK may choose (Content-Length: 0, an empty chunked body, a GET with a
// body). The rule they pin: every header countersign signs is one that arrives upstream. S3
// traffic reaches moto through a recording tap, which checks it for every forwarded request.
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls } from '../support/boto3.js';
import { agentEnv, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { adminEnv, countersignEnv, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { venvBin } from '../support/python.js';
import { send, signedRequest, type RawResponse } from '../support/raw-requests.js';
import { startTap, type Forwarded } from '../support/tap.js';

const run = promisify(execFile);

function policyYaml(moto: MotoServer): string {
  return `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: bodiless-buckets
    effect: allow
    agents: ["deleter"]
    actions: ["s3:*"]
    resources: ["arn:aws:s3:::bodiless-*"]
    credentials: { roleArn: "${moto.roleArn}" }
`;
}

/** The names a forwarded request's Authorization header says were signed. */
function signedNames(forwarded: Forwarded): string[] {
  return /SignedHeaders=([^,]+)/.exec(String(forwarded.headers.authorization))?.[1]?.split(';') ?? [];
}

/** Sends a request as given with a chunked body of `chunks` (none: just the terminating chunk). */
function sendChunked(port: number, method: string, path: string, headers: Record<string, string>, chunks: string[]): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('bodiless requests through countersign', { timeout: 120_000 }, () => {
  let moto: MotoServer;
  let tap: Awaited<ReturnType<typeof startTap>>;
  let cs: CountersignProcess;
  let agent: AgentKey;

  beforeAll(async () => {
    moto = await startMoto();
    tap = await startTap(moto.endpoint);
    for (const mode of ['proxy', 'endpoint']) {
      await seedS3(moto, `bodiless-${mode}`, { 'cli.txt': 'rm me', 'boto3.txt': 'delete me', 'raw.txt': 'raw', 'chunked.txt': 'chunked' });
      await seedS3(moto, `bodiless-${mode}-cli-rb`, {});
      await seedS3(moto, `bodiless-${mode}-boto3-rb`, {});
    }
    cs = await startCountersign({
      policies: { 'bodiless.yaml': policyYaml(moto) },
      env: { ...countersignEnv(moto), COUNTERSIGN_UPSTREAM_OVERRIDES: `s3=${tap.url},*=${moto.endpoint}` },
    });
    agent = cs.issueAgent('deleter');
  }, 120_000);

  afterAll(async () => {
    try {
      await cs?.stop();
      tap?.close();
    } finally {
      await moto?.stop();
    }
  });

  const modes = {
    proxy: () => agentEnv(cs, agent),
    endpoint: () => agentEnv(cs, agent, { AWS_ENDPOINT_URL: cs.proxyUrl, HTTPS_PROXY: '', https_proxy: '' }),
  } as const;

  const inMoto = (calls: unknown[]) => boto3Calls(adminEnv(moto), calls);
  const objectExists = async (bucket: string, key: string) => (await inMoto([{ service: 's3', op: 'head_object', params: { Bucket: bucket, Key: key } }]))[0]?.ok;
  const bucketExists = async (bucket: string) => (await inMoto([{ service: 's3', op: 'head_bucket', params: { Bucket: bucket } }]))[0]?.ok;

  describe.each(['proxy', 'endpoint'] as const)('%s mode', (mode) => {
    const bucket = `bodiless-${mode}`;

    it('AWS CLI: s3 rm deletes the object', async () => {
      const { stdout } = await run(venvBin('aws'), ['s3', 'rm', `s3://${bucket}/cli.txt`], { env: modes[mode]() });
      expect(stdout).toContain(`delete: s3://${bucket}/cli.txt`);
      expect(await objectExists(bucket, 'cli.txt')).toBe(false);
    });

    it('AWS CLI: s3 rb removes the empty bucket', async () => {
      const { stdout } = await run(venvBin('aws'), ['s3', 'rb', `s3://${bucket}-cli-rb`], { env: modes[mode]() });
      expect(stdout).toContain(`remove_bucket: ${bucket}-cli-rb`);
      expect(await bucketExists(`${bucket}-cli-rb`)).toBe(false);
    });

    it('boto3: delete_object and delete_bucket', async () => {
      const outcomes = await boto3Calls(modes[mode](), [
        { service: 's3', op: 'delete_object', params: { Bucket: bucket, Key: 'boto3.txt' } },
        { service: 's3', op: 'delete_bucket', params: { Bucket: `${bucket}-boto3-rb` } },
      ]);
      expect(outcomes).toEqual([{ ok: true, result: expect.any(Object) as unknown }, { ok: true, result: expect.any(Object) as unknown }]);
      expect(await objectExists(bucket, 'boto3.txt')).toBe(false);
      expect(await bucketExists(`${bucket}-boto3-rb`)).toBe(false);
      const deletes = await cs.waitForRequests((r) => r.mode === (mode === 'proxy' ? 'intercept' : 'endpoint') && (r.operation === 'DeleteObject' || r.operation === 'DeleteBucket') && r.upstreamStatus === 204, 2);
      expect(deletes.length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('hand-signed requests in endpoint mode, each framing an SDK may choose', () => {
    const host = () => `127.0.0.1:${cs.port}`;
    const sign = (method: string, path: string, headers: Record<string, string> = {}, body = '') =>
      signedRequest({ accessKeyId: agent.accessKeyId, secretAccessKey: agent.secretAccessKey, service: 's3', method, host: host(), path, headers, body });

    it.each([
      ['GET', '/bodiless-endpoint?list-type=2'],
      ['HEAD', '/bodiless-endpoint/raw.txt'],
      ['DELETE', '/bodiless-endpoint/raw.txt'],
    ])('%s %s with a signed Content-Length: 0', async (method, path) => {
      const { headers } = await sign(method, path, { 'content-length': '0' });
      expect(headers.authorization).toContain('content-length');
      const answer = await send(cs.port, method, path, headers);
      expect(answer.status, answer.body).toBe(method === 'DELETE' ? 204 : 200);
    });

    it('GET with a signed three-byte body: it goes on with its length', async () => {
      const { headers } = await sign('GET', '/bodiless-endpoint?list-type=2', { 'content-length': '3' }, 'abc');
      const answer = await send(cs.port, 'GET', '/bodiless-endpoint?list-type=2', headers, 'abc');
      expect(answer.status, answer.body).toBe(200);
      const [forwarded] = tap.seen.filter((r) => r.method === 'GET' && r.url.startsWith('/bodiless-endpoint?list-type=2') && r.headers['content-length'] === '3');
      expect(forwarded).toBeDefined();
    });

    it('DELETE with an empty chunked body: no Content-Length is signed, none is needed', async () => {
      const { headers } = await sign('DELETE', '/bodiless-endpoint/chunked.txt');
      const answer = await sendChunked(cs.port, 'DELETE', '/bodiless-endpoint/chunked.txt', headers, []);
      expect(answer.status, answer.body).toBe(204);
      expect(await objectExists('bodiless-endpoint', 'chunked.txt')).toBe(false);
    });
  });

  it('every header countersign signed arrived upstream, on every request it forwarded', () => {
    expect(tap.seen.length).toBeGreaterThan(10);
    for (const forwarded of tap.seen) {
      const names = signedNames(forwarded);
      expect(names, `${forwarded.method} ${forwarded.url}`).toContain('host');
      expect(names.filter((name) => forwarded.headers[name] === undefined), `${forwarded.method} ${forwarded.url}`).toEqual([]);
    }
  });
});
