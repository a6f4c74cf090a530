// Issue 15, "a replica killed with SIGKILL while holding requests": two replicas share a real
// Redis behind a TCP balancer (the Service); the agent's request is held on replica A, A is
// SIGKILLed (no shutdown, no answer), the agent's retry lands on B, which finds the same pending
// approval in Redis and forwards once a reviewer approves on B. Nothing A recorded is lost from
// the audit stream, the chain stays whole, and the approval is consumed once.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls } from '../support/boto3.js';
import { agentEnv, CLI, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { countersignEnv, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startTcpBalancer, type TcpBalancer } from '../support/tcp-balancer.js';

let moto: MotoServer;
let redis: RedisServer;
let a: CountersignProcess;
let b: CountersignProcess;
let lb: TcpBalancer;
let agent: AgentKey;
let token = '';
/** A SIGKILLed replica has nothing to stop (and the helper's stop would wait for an exit already past). */
let aKilled = false;

function policies(roleArn: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-kill-policies-'));
  writeFileSync(
    path.join(dir, 'directory.yaml'),
    `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  worker: { owners: [olga] }
reviewers:
  olga: { name: Olga Owner, groups: [owners] }
  ann: { name: Ann Analyst, groups: [owners] }
groups:
  owners: {}
`,
  );
  writeFileSync(
    path.join(dir, 'rules.yaml'),
    `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: held-reads
    effect: approve
    agents: ["worker"]
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::held/*"]
    approval: { groups: [owners], holdTimeout: 30s }
    credentials: { roleArn: "${roleArn}" }
`,
  );
  return dir;
}

interface Approval {
  id: string;
  status: string;
}

async function approvals(cs: CountersignProcess): Promise<Approval[]> {
  const res = await fetch(`${cs.reviewUrl}/api/v1/approvals`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { approvals: Approval[] }).approvals;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stream(cs: CountersignProcess): Array<Record<string, unknown>> {
  return cs
    .cli(['audit', 'export'])
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function gauge(cs: CountersignProcess, name: string): Promise<number> {
  const text = await (await fetch(`${cs.adminUrl}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 'NaN');
}

beforeAll(async () => {
  [moto, redis] = await Promise.all([startMoto(), startRedis()]);
  await seedS3(moto, 'held', { 'report.csv': 'the report' });
  const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'cs-kill-data-')), 'data');
  mkdirSync(dataDir);
  const dir = policies(moto.roleArn);
  const env = { ...countersignEnv(moto), COUNTERSIGN_REDIS_URL: redis.url, COUNTERSIGN_REDIS_PREFIX: `cs-kill-${process.pid}:` };
  // The key is issued into the data directory before the replicas start; each imports it into the
  // Redis registry at start (what an operator upgrading from one replica does), so both know it.
  agent = JSON.parse(execFileSync(process.execPath, [CLI, 'agents', 'issue', 'worker', '--json', '--force'], { env: { PATH: process.env.PATH ?? '', COUNTERSIGN_DATA_DIR: dataDir }, encoding: 'utf8' })) as AgentKey;
  registerSecret(agent.secretAccessKey);
  a = await startCountersign({ policies: dir, dataDir, env });
  b = await startCountersign({ policies: dir, dataDir, env });
  lb = await startTcpBalancer([a.port, b.port]);
  token = /COUNTERSIGN_REVIEWER_TOKEN=(\S+)/.exec(a.cli(['reviewers', 'token', 'ann']))?.[1] ?? '';
  registerSecret(token);
}, 120_000);

afterAll(async () => {
  await lb?.close();
  await Promise.all([aKilled ? undefined : a?.stop(), b?.stop()]);
  await Promise.all([moto?.stop(), redis?.stop()]);
});

describe('a replica killed with SIGKILL while holding requests', { timeout: 90_000 }, () => {
  it("the agent's retry lands on the other replica and goes through once approved; nothing is lost from the audit stream; the approval is spent once", async () => {
    // boto3 retries a dropped connection (legacy mode, one retry): the agent's own retry.
    const env = agentEnv(a, agent, { HTTPS_PROXY: lb.url, https_proxy: lb.url, AWS_METADATA_SERVICE_TIMEOUT: '1' });
    const call = boto3Calls(env, [{ service: 's3', op: 'get_object', params: { Bucket: 'held', Key: 'report.csv' }, read_body: true }]);

    const pending = await until('the approval', async () => (await approvals(b)).find((r) => r.status === 'pending'));
    // The replica holding it, from the audit stream (replica = host:pid): it must be A.
    const requested = await until('approval.requested in the stream', () => Promise.resolve(stream(b)).then((all) => all.find((r) => r.event === 'approval.requested' && r.approvalId === pending.id)));
    const holderPid = Number(String(requested.replica).split(':').pop());
    expect(await gauge(a, 'countersign_approvals_held')).toBe(1);
    expect(await gauge(b, 'countersign_approvals_held')).toBe(0);
    // What A wrote to stdout as audit events so far; all of it must be in the durable stream.
    const beforeKill = stream(b).filter((r) => r.replica === requested.replica);
    expect(beforeKill.map((r) => r.event)).toEqual(expect.arrayContaining(['policy.loaded', 'request.decided', 'approval.requested']));

    process.kill(holderPid, 'SIGKILL');
    aKilled = true;
    // A never answers; the agent's retry reaches B, which holds it on the same approval.
    await until('the retry held on B', async () => ((await gauge(b, 'countersign_approvals_held')) === 1 ? true : undefined));
    expect(await approvals(b)).toEqual([expect.objectContaining({ id: pending.id, status: 'pending' })]);

    const approve = await fetch(`${b.reviewUrl}/api/v1/approvals/${pending.id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(approve.status).toBe(200);
    const [outcome] = await call;
    expect(outcome).toMatchObject({ ok: true, result: { Body: 'the report' } });

    const records = await until('B forwarding in the stream', () => {
      const all = stream(b);
      return Promise.resolve(all.some((r) => r.event === 'request.forwarded' && r.approvalId === pending.id) ? all : undefined);
    });
    // Nothing A made durable before it died went missing, and the chain is whole across both replicas.
    for (const record of beforeKill) expect(records.find((r) => r.hash === record.hash), String(record.event)).toBeDefined();
    expect(b.cli(['audit', 'verify'])).toMatch(/^ok: \d+ records, chain intact/);
    const forwarded = records.filter((r) => r.event === 'request.forwarded' && r.approvalId === pending.id);
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]).toMatchObject({ upstreamStatus: 200 });
    expect(forwarded[0]?.replica).not.toBe(requested.replica);
    expect(records.filter((r) => r.event === 'approval.consumed' && r.approvalId === pending.id)).toHaveLength(1);
  });
});
