// The credential endpoint off loopback: HTTPS with a certificate from countersign's CA
// (COUNTERSIGN_CREDENTIALS_TLS_NAMES), and what each SDK needs to use it, as docs/deploy.md
// ("Which SDK accepts what") says: the JS SDK v3 trusts it through NODE_EXTRA_CA_CERTS, the Go
// SDK v2 through SSL_CERT_FILE (not AWS_CA_BUNDLE, which only its service clients take); botocore
// (boto3, the AWS CLI) verifies against certifi's bundle alone and fails, and works through
// `countersign credential-relay` on loopback. The endpoint's address is 127.0.0.1 here, its
// certificate issued for that IP; every SDK is held to HTTPS by the https:// URL regardless.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startCountersign, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { countersignEnv, seedRoles, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.js';
import { repoRoot, venvBin } from '../support/python.js';

const run = promisify(execFile);
const CLIENTS = path.join(repoRoot, 'test', 'e2e', 'clients');
const BUCKET = 'tls-data';
const ROLE = 'tls-reader';
const SUB = 'system:serviceaccount:agents:tls-bot';

interface Outcome {
  keys: string[];
  results: Array<{ ok: boolean; keys?: string[] }>;
}

describe('workload identity over HTTPS: the credential endpoint with a countersign-CA certificate', { timeout: 120_000 }, () => {
  let moto: MotoServer;
  let issuer: TestIssuer;
  let cs: CountersignProcess;
  let relay: ChildProcess | undefined;
  let work: string;
  let goClient: string;
  let endpointUrl: string;
  let relayUrl: string;

  const env = (fullUri: string, extra: Record<string, string> = {}): Record<string, string> => ({
    PATH: process.env.PATH ?? '',
    HOME: work,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    HTTPS_PROXY: cs.proxyUrl,
    https_proxy: cs.proxyUrl,
    NO_PROXY: '',
    AWS_CA_BUNDLE: cs.caPath,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: fullUri,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: path.join(work, 'token'),
    GOCACHE: process.env.GOCACHE ?? path.join(process.env.HOME ?? '/tmp', '.cache', 'go-build'),
    ...extra,
  });

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'cs-workload-tls-'));
    goClient = path.join(work, 'go-refresh');
    const building = run('go', ['build', '-o', goClient, './refresh'], { cwd: path.join(CLIENTS, 'go'), timeout: 600_000, env: { ...process.env, GOTOOLCHAIN: 'auto', GOFLAGS: '-mod=readonly' } });
    building.catch(() => {});
    [moto, issuer] = await Promise.all([startMoto(), startTestIssuer()]);
    await seedRoles(moto, [ROLE]);
    await seedS3(moto, BUCKET, { 'a.txt': 'a' });
    cs = await startCountersign({
      policies: {
        'directory.yaml': `apiVersion: countersign.dev/v1alpha1\nkind: Directory\nagents:\n  tls-bot: {}\nidentities:\n  - issuer: ${issuer.url}\n    claims: { sub: "${SUB}" }\n    agent: tls-bot\n`,
        'rules.yaml': `apiVersion: countersign.dev/v1alpha1\nkind: Policy\nrules:\n  - name: list\n    effect: allow\n    agents: [tls-bot]\n    actions: ["s3:ListBucket"]\n    resources: ["arn:aws:s3:::${BUCKET}"]\n    credentials: { roleArn: "arn:aws:iam::${moto.accountId}:role/${ROLE}" }\n`,
      },
      env: { ...countersignEnv(moto), COUNTERSIGN_OIDC_ISSUER: issuer.url, COUNTERSIGN_OIDC_AUDIENCES: 'countersign', COUNTERSIGN_CREDENTIALS_LISTEN: '127.0.0.1:0', COUNTERSIGN_CREDENTIALS_TLS_NAMES: '127.0.0.1' },
    });
    const deadline = Date.now() + 10_000;
    while (endpointUrl === undefined) {
      const line = cs.stdout().split('\n').find((l) => l.includes('"credentials.listening"'));
      if (line !== undefined) endpointUrl = (JSON.parse(line) as { url: string }).url;
      else if (Date.now() > deadline) throw new Error(`no credential endpoint in the log:\n${cs.stdout()}`);
      else await new Promise((r) => setTimeout(r, 50));
    }
    const token = issuer.token({ sub: SUB });
    registerSecret(token);
    writeFileSync(path.join(work, 'token'), token);
    relay = spawn(process.execPath, [CLI, 'credential-relay', '--endpoint', endpointUrl, '--ca', cs.caPath, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    relayUrl = await new Promise<string>((resolve, reject) => {
      let stderr = '';
      const timer = setTimeout(() => reject(new Error(`credential-relay did not start: ${stderr}`)), 10_000);
      relay?.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
        const match = /relay on (http:\/\/127\.0\.0\.1:\d+\/v1\/credentials)/.exec(stderr);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      relay?.once('exit', (code) => reject(new Error(`credential-relay exited with ${String(code)}: ${stderr}`)));
    });
    await building;
  }, 600_000);

  afterAll(async () => {
    if (relay !== undefined && relay.exitCode === null) {
      const exited = new Promise((r) => relay?.once('exit', r));
      relay.kill('SIGTERM');
      await exited;
    }
    await cs?.stop();
    await moto?.stop();
    await issuer?.close();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  const listed = { keys: [expect.stringMatching(/^CSIA/)], results: [{ ok: true, keys: ['a.txt'] }] };

  it('serves HTTPS', () => {
    expect(endpointUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\/credentials$/);
  });

  it('the JS SDK v3 fetches over HTTPS trusting the CA through NODE_EXTRA_CA_CERTS', async () => {
    const { stdout } = await run(process.execPath, [path.join(CLIENTS, 'js_sdk_refresh.mjs'), BUCKET, 'once'], { env: env(endpointUrl, { NODE_EXTRA_CA_CERTS: cs.caPath }), cwd: repoRoot, timeout: 60_000 });
    expect(JSON.parse(stdout) as Outcome).toEqual(listed);
  });

  it('the Go SDK v2 fetches over HTTPS trusting the CA through SSL_CERT_FILE', async () => {
    const { stdout } = await run(goClient, [BUCKET, 'once'], { env: env(endpointUrl, { SSL_CERT_FILE: cs.caPath }), timeout: 60_000 });
    expect(JSON.parse(stdout) as Outcome).toEqual(listed);
  });

  it('boto3 cannot verify the endpoint by itself (certifi only), and fetches through the loopback relay', async () => {
    const direct = await run(venvBin('python'), [path.join(CLIENTS, 'boto3_refresh.py'), BUCKET, 'once'], { env: env(endpointUrl), timeout: 60_000 }).then(
      () => 'succeeded',
      (error: { stderr?: string }) => error.stderr ?? '',
    );
    expect(direct).toMatch(/CERTIFICATE_VERIFY_FAILED|certificate verify failed/);
    const { stdout } = await run(venvBin('python'), [path.join(CLIENTS, 'boto3_refresh.py'), BUCKET, 'once'], { env: env(relayUrl), timeout: 60_000 });
    expect(JSON.parse(stdout) as Outcome).toEqual(listed);
  });

  it('the AWS CLI fetches through the loopback relay', async () => {
    const { stdout } = await run(venvBin('aws'), ['s3api', 'list-objects-v2', '--bucket', BUCKET, '--output', 'json'], { env: env(relayUrl), timeout: 60_000 });
    expect((JSON.parse(stdout) as { Contents: Array<{ Key: string }> }).Contents.map((o) => o.Key)).toEqual(['a.txt']);
  });

  it('the relay passes refusals on with their code', async () => {
    const response = await fetch(relayUrl, { headers: { authorization: issuer.token({ sub: 'system:serviceaccount:agents:other' }) } });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-countersign-error')).toBe('WorkloadNotMapped');
  });
});
