// Workload identity end to end: a test OIDC issuer on loopback, countersign with its credential
// endpoint (15-second credentials), moto with authentication on, and the real clients (boto3,
// the AWS CLI, the AWS SDK for JavaScript v3, the AWS SDK for Go v2) using the container
// credential provider with a token file: AWS_CONTAINER_CREDENTIALS_FULL_URI on loopback (plain
// HTTP is accepted there by every SDK) and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE. Each makes an
// allowed call through HTTPS_PROXY, waits past its credentials' expiry while the issuer rotates
// its key and the token file is replaced, and calls again on refreshed credentials.
import { execFile } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls } from '../support/boto3.js';
import { startCountersign, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { countersignEnv, seedRoles, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.js';
import { repoRoot, venvBin } from '../support/python.js';

const run = promisify(execFile);
const CLIENTS = path.join(repoRoot, 'test', 'e2e', 'clients');
const BUCKET = 'workload-data';
const ROLE = 'workload-reader';
const AGENTS = ['boto3-bot', 'cli-bot', 'js-bot', 'go-bot'] as const;
type Agent = (typeof AGENTS)[number];
const subjectOf = (agent: string) => `system:serviceaccount:agents:${agent}`;

function policies(issuer: string, accountId: string): Record<string, string> {
  return {
    'directory.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
${AGENTS.map((a) => `  ${a}: { owners: [alice] }`).join('\n')}
reviewers:
  alice: { name: Alice }
identities:
${AGENTS.map((a) => `  - issuer: ${issuer}\n    claims: { sub: "${subjectOf(a)}" }\n    agent: ${a}`).join('\n')}
`,
    'rules.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: read-workload-bucket
    effect: allow
    agents: ["*-bot"]
    actions: ["s3:ListBucket"]
    resources: ["arn:aws:s3:::${BUCKET}"]
    credentials: { roleArn: "arn:aws:iam::${accountId}:role/${ROLE}" }
`,
  };
}

interface RefreshOutcome {
  keys: string[];
  results: Array<{ ok: boolean; keys?: string[]; code?: string; message?: string }>;
}

describe('workload identity: SDKs fetch and refresh countersign credentials with a token file', { timeout: 180_000 }, () => {
  let moto: MotoServer;
  let issuer: TestIssuer;
  let cs: CountersignProcess;
  let work: string;
  let goClient: string;
  let credentialsUrl: string;

  const tokenFile = (agent: string) => path.join(work, `${agent}.token`);
  /** As the kubelet does: the new token in a temporary file, renamed over the old one. */
  const writeToken = (agent: string, token: string) => {
    registerSecret(token); // a bearer token: never in countersign's log (vitest.secrets.config.ts checks)
    writeFileSync(`${tokenFile(agent)}.tmp`, token);
    renameSync(`${tokenFile(agent)}.tmp`, tokenFile(agent));
  };
  const clientEnv = (agent: string): Record<string, string> => ({
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
    NODE_EXTRA_CA_CERTS: cs.caPath,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: credentialsUrl,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile(agent),
    GOCACHE: process.env.GOCACHE ?? path.join(process.env.HOME ?? '/tmp', '.cache', 'go-build'),
  });
  const issuedTo = (agent: string) =>
    cs
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes('"credentials.issued"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((r) => r.agent === agent);

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'cs-workload-'));
    goClient = path.join(work, 'go-refresh');
    const building = run('go', ['build', '-o', goClient, './refresh'], { cwd: path.join(CLIENTS, 'go'), timeout: 600_000, env: { ...process.env, GOTOOLCHAIN: 'auto', GOFLAGS: '-mod=readonly' } });
    building.catch(() => {});
    [moto, issuer] = await Promise.all([startMoto(), startTestIssuer()]);
    await seedRoles(moto, [ROLE]);
    await seedS3(moto, BUCKET, { 'report.csv': 'a,b\n' });
    cs = await startCountersign({
      policies: policies(issuer.url, moto.accountId),
      env: {
        ...countersignEnv(moto),
        COUNTERSIGN_OIDC_ISSUER: issuer.url,
        COUNTERSIGN_OIDC_AUDIENCES: 'countersign',
        COUNTERSIGN_CREDENTIALS_LISTEN: '127.0.0.1:0',
        COUNTERSIGN_CREDENTIAL_LIFETIME_SECONDS: '15',
      },
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const line = cs.stdout().split('\n').find((l) => l.includes('"credentials.listening"'));
      if (line !== undefined) {
        credentialsUrl = (JSON.parse(line) as { url: string }).url;
        break;
      }
      if (Date.now() > deadline) throw new Error(`no credential endpoint in the log:\n${cs.stdout()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const agent of [...AGENTS, 'unmapped']) writeToken(agent, issuer.token({ sub: subjectOf(agent) }));
    await building;
  }, 600_000);

  afterAll(async () => {
    await cs?.stop();
    await moto?.stop();
    await issuer?.close();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  const clients: Record<Agent, () => Promise<RefreshOutcome>> = {
    'boto3-bot': async () => JSON.parse((await run(venvBin('python'), [path.join(CLIENTS, 'boto3_refresh.py'), BUCKET], { env: clientEnv('boto3-bot'), timeout: 90_000 })).stdout) as RefreshOutcome,
    'js-bot': async () => JSON.parse((await run(process.execPath, [path.join(CLIENTS, 'js_sdk_refresh.mjs'), BUCKET], { env: clientEnv('js-bot'), cwd: repoRoot, timeout: 90_000 })).stdout) as RefreshOutcome,
    'go-bot': async () => JSON.parse((await run(goClient, [BUCKET], { env: clientEnv('go-bot'), timeout: 90_000 })).stdout) as RefreshOutcome,
    // One CLI invocation is one process: the second runs after the first's credentials expired, on a rotated token.
    'cli-bot': async () => {
      const list = async () => {
        const { stdout } = await run(venvBin('aws'), ['s3api', 'list-objects-v2', '--bucket', BUCKET, '--output', 'json'], { env: clientEnv('cli-bot'), timeout: 60_000 });
        return { ok: true, keys: ((JSON.parse(stdout) as { Contents?: Array<{ Key: string }> }).Contents ?? []).map((o) => o.Key) };
      };
      const first = await list();
      const [issued] = issuedTo('cli-bot');
      await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(String(issued?.expiresAt)) - Date.now()) + 1500));
      const second = await list();
      return { keys: issuedTo('cli-bot').map((r) => String(r.accessKeyId)), results: [first, second] };
    },
  };

  it('boto3, the AWS CLI, the JS SDK v3 and the Go SDK v2 each call through countersign, and again after their credentials expired and the token rotated', async () => {
    // Credentials fetched by hand now and used, unrefreshed, once the clients are done (past their expiry).
    const stale = (await (await fetch(credentialsUrl, { headers: { authorization: issuer.token({ sub: subjectOf('boto3-bot') }) } })).json()) as { AccessKeyId: string; SecretAccessKey: string; Token: string; Expiration: string };
    registerSecret(stale.SecretAccessKey, stale.Token);
    const outcomes = Promise.all(AGENTS.map(async (agent) => [agent, await clients[agent]()] as const));
    // Rotate while the clients wait out their first credentials: a new signing key, new token files.
    const deadline = Date.now() + 60_000;
    while (!AGENTS.every((a) => issuedTo(a).length > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    issuer.rotate();
    for (const agent of AGENTS) writeToken(agent, issuer.token({ sub: subjectOf(agent) }));
    for (const [agent, outcome] of await outcomes) {
      expect(outcome.results, `${agent}: ${JSON.stringify(outcome)}`).toEqual([
        { ok: true, keys: ['report.csv'] },
        { ok: true, keys: ['report.csv'] },
      ]);
      expect(new Set(outcome.keys).size, `${agent} refreshed its credentials`).toBeGreaterThan(1);
      for (const key of outcome.keys) expect(key).toMatch(/^CSIA[A-Z2-7]{16}$/);
      const forwarded = await cs.waitForRequests((r) => r.agent === agent && r.event === 'request.forwarded' && r.upstreamStatus === 200, 2);
      expect(new Set(forwarded.map((r) => r.accessKeyId)).size, `${agent}: two calls on two credentials`).toBeGreaterThan(1);
    }
    expect(Date.parse(stale.Expiration)).toBeLessThan(Date.now());
    const [expired] = await boto3Calls({ ...clientEnv('boto3-bot'), AWS_CONTAINER_CREDENTIALS_FULL_URI: '', AWS_ACCESS_KEY_ID: stale.AccessKeyId, AWS_SECRET_ACCESS_KEY: stale.SecretAccessKey, AWS_SESSION_TOKEN: stale.Token }, [{ service: 's3', op: 'list_objects_v2', params: { Bucket: BUCKET } }]);
    expect(expired).toMatchObject({ ok: false, code: 'ExpiredToken' });
  });

  it('boto3, the Go SDK and the JS SDK show the refusal of a token no Directory identity maps', async () => {
    const env = clientEnv('unmapped');
    const python = run(venvBin('python'), [path.join(CLIENTS, 'boto3_refresh.py'), BUCKET], { env, timeout: 60_000 }).then(
      () => '',
      (error: { stderr?: string }) => error.stderr ?? '',
    );
    const js = run(process.execPath, [path.join(CLIENTS, 'js_sdk_refresh.mjs'), BUCKET], { env, cwd: repoRoot, timeout: 60_000 }).then(
      ({ stdout }) => stdout,
      (error: { stderr?: string }) => error.stderr ?? '',
    );
    const go = run(goClient, [BUCKET, 'once'], { env, timeout: 60_000 }).then(
      ({ stdout }) => stdout,
      (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
    const [pythonOut, jsOut, goOut] = await Promise.all([python, js, go]);
    expect(pythonOut).toContain('WorkloadNotMapped');
    expect(goOut).toContain('No Directory identity maps the workload');
    // The JS SDK's default chain reports only that no provider worked (fromHttp's error, with Code and Message, is swallowed by the chain).
    expect(jsOut).toContain('Could not load credentials from any providers');
    expect(cs.stdout()).toContain('"credentials.refused"');
  });
});
