// Two countersign replicas sharing one real redis-server and nothing else (each its own data
// directory holding the same CA and server key, as pods get them from the chart's Secret), moto
// (request authentication on) as AWS, the AWS CLI as the agent, and the countersign CLI calling
// the admin API with --server, as an operator would: nothing reads the data directory locally.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentEnv, CLI, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { countersignEnv, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { venvBin } from '../support/python.js';
import { send, signedRequest } from '../support/raw-requests.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const run = promisify(execFile);

let redis: RedisServer;
let moto: MotoServer;
let a: CountersignProcess;
let b: CountersignProcess;
let operator: Record<string, string>;
let workDir: string;

function policies(roleArn: string): Record<string, string> {
  return {
    'directory.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  report-bot: { owners: [dana] }
reviewers:
  dana: { name: Dana }
`,
    'rules.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: reports
    effect: allow
    agents: [report-bot]
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::reports/*"]
    credentials: { roleArn: "${roleArn}" }
`,
  };
}

/** `countersign ARGS` as an operator runs it: the admin URL and token only, from an empty directory. */
function countersign(args: string[], env: Record<string, string> = operator) {
  const result = spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, cwd: workDir, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Status of an S3 GetObject in endpoint mode, signed as an SDK signs it. */
async function statusOf(cs: CountersignProcess, key: AgentKey): Promise<{ status: number; code: string | undefined }> {
  const host = `127.0.0.1:${cs.port}`;
  const { headers } = await signedRequest({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, service: 's3', host, path: '/reports/a.txt' });
  const response = await send(cs.port, 'GET', '/reports/a.txt', headers);
  return { status: response.status, code: response.headers['x-countersign-error'] as string | undefined };
}

async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, within = 5_000): Promise<T> {
  const deadline = Date.now() + within;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  [redis, moto] = await Promise.all([startRedis(), startMoto()]);
  await seedS3(moto, 'reports', { 'a.txt': 'quarterly numbers\n' });
  const token = randomBytes(32).toString('hex');
  registerSecret(token);
  const secrets = mkdtempSync(path.join(tmpdir(), 'cs-replicas-'));
  const tokenFile = path.join(secrets, 'admin-token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const env = { ...countersignEnv(moto), COUNTERSIGN_REDIS_URL: redis.url, COUNTERSIGN_REDIS_PREFIX: `test:${randomUUID()}:`, COUNTERSIGN_ADMIN_TOKEN_FILE: tokenFile };
  a = await startCountersign({ policies: policies(moto.roleArn), env });
  const bData = path.join(secrets, 'b-data');
  mkdirSync(bData, { mode: 0o700 });
  for (const file of ['ca.crt', 'ca.key', 'server.key']) copyFileSync(path.join(a.dataDir, file), path.join(bData, file));
  b = await startCountersign({ policies: policies(moto.roleArn), env, dataDir: bData });
  workDir = mkdtempSync(path.join(tmpdir(), 'cs-operator-'));
  operator = { COUNTERSIGN_ADMIN_TOKEN: token };
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([redis?.stop(), moto?.stop()]);
});

describe('two replicas sharing Redis, managed through the admin API', { timeout: 120_000 }, () => {
  let key: AgentKey & { expiresAt?: string };

  it('a key issued on one replica (countersign agents issue --server) works on the other, with the AWS CLI', async () => {
    const issued = countersign(['agents', 'issue', 'report-bot', '--ttl', '7d', '--server', a.adminUrl, '--json']);
    expect(issued.stderr).toBe('');
    expect(issued.code).toBe(0);
    key = JSON.parse(issued.stdout) as AgentKey & { expiresAt?: string };
    registerSecret(key.secretAccessKey);
    expect(key).toMatchObject({ agent: 'report-bot', accessKeyId: expect.stringMatching(/^CSAK/) as unknown });
    expect(Date.parse(key.expiresAt ?? '') - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    // Nothing was written where the operator ran the CLI: no data directory, no server key.
    expect(existsSync(path.join(workDir, '.countersign'))).toBe(false);

    expect((await eventually(() => statusOf(b, key), (s) => s.status === 200)).status).toBe(200);
    const { stdout } = await run(venvBin('aws'), ['s3', 'cp', 's3://reports/a.txt', '-'], { env: agentEnv(b, key) });
    expect(stdout).toBe('quarterly numbers\n');
  });

  it('agents list --server shows the key on either replica: issued, expires, last use (written within about a minute; here on the flush)', async () => {
    const listed = await eventually(
      () => Promise.resolve(countersign(['agents', 'list', '--server', a.adminUrl, '--json'])),
      (r) => r.stdout.includes('lastUsedAt'),
      15_000,
    );
    const agents = JSON.parse(listed.stdout) as Array<{ agent: string; keys: Array<Record<string, string>> }>;
    expect(agents).toEqual([{ agent: 'report-bot', keys: [{ accessKeyId: key.accessKeyId, createdAt: expect.any(String) as unknown, expiresAt: key.expiresAt, lastUsedAt: expect.any(String) as unknown }] }]);
    const table = countersign(['agents', 'list', '--server', b.adminUrl]).stdout.trimEnd().split('\n');
    expect(table[0]).toMatch(/^AGENT +ACCESS KEY ID +STATUS +ISSUED +EXPIRES +LAST USED$/);
    expect(table[1]).toMatch(new RegExp(`^report-bot +${key.accessKeyId} +active +\\S+ +${key.expiresAt ?? ''} +\\d{4}-`));
  });

  it('an agent revoked on one replica (countersign agents revoke --server) is refused on the other within seconds', async () => {
    const revoked = countersign(['agents', 'revoke', 'report-bot', '--server', b.adminUrl]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`^Revoked agent "report-bot" at \\d{4}-\\S+: ${key.accessKeyId}, and every credential issued to it until then\\.\\n$`));
    expect((await eventually(() => statusOf(a, key), (s) => s.code === 'RevokedAgentKey')).code).toBe('RevokedAgentKey');
    // GetObject, not the CLI's s3 cp (its HeadObject shows a bodiless 403 as "Forbidden").
    const refused = await run(venvBin('aws'), ['s3api', 'get-object', '--bucket', 'reports', '--key', 'a.txt', path.join(workDir, 'out.txt')], { env: agentEnv(a, key) }).catch((error: { stderr: string }) => error);
    expect('stderr' in refused ? refused.stderr : '').toMatch(/InvalidAccessKeyId[\s\S]*was revoked/);
  });

  it('the CLI against a running server without the right token is refused and says what to set', () => {
    const wrong = countersign(['agents', 'list', '--server', a.adminUrl], { COUNTERSIGN_ADMIN_TOKEN: 'x'.repeat(64) });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^countersign: AdminUnauthorized: The operator token is not the one this countersign accepts\. Send the operator token/);
    const none = countersign(['agents', 'issue', 'report-bot', '--server', a.adminUrl], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('set COUNTERSIGN_ADMIN_TOKEN');
    const undeclared = countersign(['agents', 'issue', 'stranger', '--server', a.adminUrl]);
    expect(undeclared.code).toBe(1);
    expect(undeclared.stderr).toMatch(/^countersign: UndeclaredAgent: The Directory in force does not declare agent "stranger" \(it declares report-bot\)/);
  });
});
