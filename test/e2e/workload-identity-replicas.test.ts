// Session credentials across replicas: two countersign processes sharing one real redis-server
// (the agent registry) and the same CA and server key, as pods get them from the chart's
// Secret. Credentials one replica's endpoint issued work on the other (they are stateless), in
// headers and in a presigned URL (X-Amz-Security-Token in the query);
// revoking the agent on one stops them on both within seconds, and no new ones are issued.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls, type Boto3Outcome } from '../support/boto3.js';
import { CLI, startCountersign, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { countersignEnv, seedRoles, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.js';
import { venvBin } from '../support/python.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const BUCKET = 'replica-data';
const ROLE = 'replica-reader';
const SUB = 'system:serviceaccount:agents:report-bot';

let redis: RedisServer;
let moto: MotoServer;
let issuer: TestIssuer;
let a: CountersignProcess;
let b: CountersignProcess;
let work: string;
let endpointOfA: string;
let adminToken: string;

interface Issued {
  AccessKeyId: string;
  SecretAccessKey: string;
  Token: string;
}

async function fetchCredentials(token: string): Promise<{ status: number; code: string | null; body: Issued }> {
  const response = await fetch(endpointOfA, { headers: { authorization: token } });
  const body = (await response.json()) as Issued;
  registerSecret(body.SecretAccessKey, body.Token);
  return { status: response.status, code: response.headers.get('x-countersign-error'), body };
}

function agentEnv(cs: CountersignProcess, credentials: Issued): Record<string, string> {
  return {
      PATH: process.env.PATH ?? '',
      HOME: work,
      AWS_ACCESS_KEY_ID: credentials.AccessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.SecretAccessKey,
      AWS_SESSION_TOKEN: credentials.Token,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
      HTTPS_PROXY: cs.proxyUrl,
      AWS_CA_BUNDLE: cs.caPath,
  };
}

function listThrough(cs: CountersignProcess, credentials: Issued): Promise<Boto3Outcome[]> {
  return boto3Calls(agentEnv(cs, credentials), [{ service: 's3', op: 'list_objects_v2', params: { Bucket: BUCKET } }]);
}

/** A presigned GET made by boto3 with the session credentials (X-Amz-Security-Token in the query), fetched with curl through the proxy. */
function presignedGet(cs: CountersignProcess, credentials: Issued): string {
  const script = `import boto3, sys\nfrom botocore.config import Config\nprint(boto3.client('s3', config=Config(signature_version='s3v4')).generate_presigned_url('get_object', Params={'Bucket': sys.argv[1], 'Key': 'a.txt'}, ExpiresIn=300))`;
  const url = execFileSync(venvBin('python'), ['-c', script, BUCKET], { env: agentEnv(cs, credentials), encoding: 'utf8' }).trim();
  expect(new URL(url).searchParams.get('X-Amz-Security-Token')).toBe(credentials.Token);
  return execFileSync('curl', ['-sS', '--proxy', cs.proxyUrl, '--cacert', cs.caPath, '-w', ' %{http_code}', url], { encoding: 'utf8' });
}

async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, within = 10_000): Promise<T> {
  const deadline = Date.now() + within;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  [redis, moto, issuer] = await Promise.all([startRedis(), startMoto(), startTestIssuer()]);
  await seedRoles(moto, [ROLE]);
  await seedS3(moto, BUCKET, { 'a.txt': 'a' });
  const policies = {
    'directory.yaml': `apiVersion: countersign.dev/v1alpha1\nkind: Directory\nagents:\n  report-bot: {}\nidentities:\n  - issuer: ${issuer.url}\n    claims: { sub: "${SUB}" }\n    agent: report-bot\n`,
    'rules.yaml': `apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules:\n  - name: list\n    effect: allow\n    agents: [report-bot]\n    actions: ["s3:ListBucket", "s3:GetObject"]\n    resources: ["arn:aws:s3:::${BUCKET}", "arn:aws:s3:::${BUCKET}/*"]\n    credentials: { roleArn: "arn:aws:iam::${moto.accountId}:role/${ROLE}" }\n`,
  };
  work = mkdtempSync(path.join(tmpdir(), 'cs-wi-replicas-'));
  // Revoking goes through the admin API (the registry is in Redis; the CLI's --server), as an operator would.
  adminToken = randomBytes(32).toString('hex');
  registerSecret(adminToken);
  const tokenFile = path.join(work, 'admin-token');
  writeFileSync(tokenFile, `${adminToken}\n`, { mode: 0o600 });
  const env = { ...countersignEnv(moto), COUNTERSIGN_REDIS_URL: redis.url, COUNTERSIGN_REDIS_PREFIX: `test:${randomUUID()}:`, COUNTERSIGN_ADMIN_TOKEN_FILE: tokenFile };
  a = await startCountersign({ policies, env: { ...env, COUNTERSIGN_OIDC_ISSUER: issuer.url, COUNTERSIGN_OIDC_AUDIENCES: 'countersign', COUNTERSIGN_CREDENTIALS_LISTEN: '127.0.0.1:0' } });
  const bData = path.join(work, 'b-data');
  mkdirSync(bData, { mode: 0o700 });
  for (const file of ['ca.crt', 'ca.key', 'server.key']) copyFileSync(path.join(a.dataDir, file), path.join(bData, file));
  // B serves no credential endpoint: it only verifies what A issued.
  b = await startCountersign({ policies, env, dataDir: bData });
  const line = await eventually(
    () => Promise.resolve(a.stdout().split('\n').find((l) => l.includes('"credentials.listening"'))),
    (l) => l !== undefined,
  );
  endpointOfA = (JSON.parse(line ?? '{}') as { url: string }).url;
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([redis?.stop(), moto?.stop(), issuer?.close()]);
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('workload identity across replicas sharing Redis', { timeout: 120_000 }, () => {
  it('credentials from one replica\'s endpoint work on the other; revoking the agent on one stops them on both, and no new ones are issued', async () => {
    const token = issuer.token({ sub: SUB });
    registerSecret(token);
    const issued = await fetchCredentials(token);
    expect(issued.status).toBe(200);
    expect(await listThrough(b, issued.body)).toEqual([expect.objectContaining({ ok: true })]);
    expect(await listThrough(a, issued.body)).toEqual([expect.objectContaining({ ok: true })]);
    expect(presignedGet(b, issued.body)).toBe('a 200');

    const revoke = spawnSync(process.execPath, [CLI, 'agents', 'revoke', 'report-bot', '--server', a.adminUrl], { env: { PATH: process.env.PATH ?? '', COUNTERSIGN_ADMIN_TOKEN: adminToken }, cwd: work, encoding: 'utf8' });
    expect(revoke.stdout).toContain('Revoked agent "report-bot"');
    for (const replica of [b, a]) {
      const refused = await eventually(() => listThrough(replica, issued.body), (o) => o[0]?.ok === false);
      expect(refused).toEqual([expect.objectContaining({ ok: false, code: 'InvalidClientTokenId' })]);
    }
    const records = await b.waitForRequests((r) => r.errorCode === 'AgentRevoked');
    expect(records.length).toBeGreaterThan(0);
    const again = await fetchCredentials(issuer.token({ sub: SUB }));
    expect([again.status, again.code]).toEqual([403, 'AgentRevoked']);
  });
});
