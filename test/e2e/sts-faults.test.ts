// countersign's own path to AWS (issue 15): which identity it runs as (sts:GetCallerIdentity at
// start, in /readyz, the metric and the log), what it says when it has none, and STS slow or
// unreachable: a real stand-in on loopback in front of moto passes STS calls through, delays
// them or swallows them, and counts how many it holds at once.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialMinter } from '../../src/broker/minter.js';
import { CountersignError } from '../../src/errors.js';
import { boto3Calls } from '../support/boto3.js';
import { agentEnv, startCountersign, type CountersignProcess } from '../support/countersign.js';
import { countersignEnv, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { startStsStandIn, type StsStandIn } from '../support/sts-standin.js';

let moto: MotoServer;
let sts: StsStandIn;
const running: CountersignProcess[] = [];

function policyDir(roleArn: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-sts-policies-'));
  writeFileSync(
    path.join(dir, 'rules.yaml'),
    `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: reports
    effect: allow
    agents: ["*"]
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::reports/*"]
    credentials: { roleArn: "${roleArn}" }
`,
  );
  return dir;
}

async function start(env: Record<string, string>): Promise<CountersignProcess> {
  const cs = await startCountersign({ policies: policyDir(moto.roleArn), env: { COUNTERSIGN_UPSTREAM_OVERRIDES: `*=${moto.endpoint}`, ...env } });
  running.push(cs);
  return cs;
}

async function readyz(cs: CountersignProcess): Promise<{ status: number; body: { status: string; degraded: string[]; checks: Record<string, Record<string, unknown>> } }> {
  const res = await fetch(`${cs.adminUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; degraded: string[]; checks: Record<string, Record<string, unknown>> } };
}

/** Polls /readyz until the identity check has an answer (it runs in the background at start). */
async function identityOf(cs: CountersignProcess): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const identity = (await readyz(cs)).body.checks.awsIdentity ?? {};
    if (identity.status !== 'checking' || Date.now() > deadline) return identity;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const getReport = (key: string) => ({ service: 's3', op: 'get_object', params: { Bucket: 'reports', Key: key }, read_body: true });

beforeAll(async () => {
  moto = await startMoto();
  await seedS3(moto, 'reports', { 'q1.csv': 'q1', 'q2.csv': 'q2' });
  sts = await startStsStandIn(moto.endpoint);
});

afterAll(async () => {
  await Promise.all(running.map((cs) => cs.stop()));
  await sts?.close();
  await moto?.stop();
});

describe("countersign's own AWS identity", { timeout: 90_000 }, () => {
  it('says which identity it runs as: /readyz, the metric and a log line', async () => {
    const cs = await start(countersignEnv(moto));
    const identity = await identityOf(cs);
    expect(identity).toMatchObject({ ok: true, status: 'ok', arn: `arn:aws:iam::${moto.accountId}:user/countersign-proxy`, account: moto.accountId });
    expect(cs.stdout()).toContain('"event":"aws.identity"');
    const metrics = await (await fetch(`${cs.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/countersign_dependency_healthy\{dependency="awsIdentity"\} 1/);
    expect(metrics).toContain(`countersign_aws_identity_info{arn="arn:aws:iam::${moto.accountId}:user/countersign-proxy",account="${moto.accountId}",status="ok"} 1`);
  });

  it('with no credentials: still ready (degraded), says exactly what is missing, and the first call blames countersign, not the rule', async () => {
    // countersignEnv without the AWS keys: the provider chain finds nothing (no files, no IMDS).
    const cs = await start({});
    const identity = await identityOf(cs);
    expect(identity).toMatchObject({ ok: false, status: 'no_credentials' });
    expect(String(identity.error)).toContain('countersign has no AWS credentials of its own');
    const ready = await readyz(cs);
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'degraded', degraded: ['awsIdentity'] });
    expect(cs.stdout()).toContain('"event":"aws.identity_unavailable"');
    const metrics = await (await fetch(`${cs.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/countersign_dependency_healthy\{dependency="awsIdentity"\} 0/);
    expect(metrics).toContain('countersign_aws_identity_info{arn="",account="",status="no_credentials"} 1');

    const [outcome] = await boto3Calls(agentEnv(cs, cs.issueAgent('reporter')), [getReport('q1.csv')]);
    expect(outcome).toMatchObject({ ok: false, status: 503, code: 'ServiceUnavailable' });
    expect(outcome?.message).toContain('countersign has no AWS credentials of its own');
    expect(outcome?.message).not.toContain('trust policy');
    // boto3 retries a 503 once: every attempt is refused the same way.
    const refused = await cs.waitForRequests(() => true);
    expect(refused.length).toBeGreaterThan(0);
    for (const record of refused) expect(record.errorCode).toBe('BrokerCredentialsUnavailable');
  });

  it('with credentials STS does not accept: says so', async () => {
    const cs = await start({ AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-real-secret-for-tests-000000000000' });
    expect(await identityOf(cs)).toMatchObject({ ok: false, status: 'invalid_credentials' });
    const [outcome] = await boto3Calls(agentEnv(cs, cs.issueAgent('reporter')), [getReport('q1.csv')]);
    expect(outcome).toMatchObject({ ok: false, status: 503, code: 'ServiceUnavailable' });
    expect(outcome?.message).toContain("STS does not accept countersign's own AWS credentials");
  });
});

describe('STS slow or unreachable', { timeout: 90_000 }, () => {
  const role = () => moto.roleArn;
  const mintFor = (minter: CredentialMinter, i: number) =>
    minter.mint({
      roleArn: role(),
      // A distinct session policy each: no two calls share one STS call.
      sessionPolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::reports/${i}` }] }),
      durationSeconds: 900,
      agent: 'reporter',
      requestId: `req-${i}`,
    });

  it('bounds what waits for a blackholed STS: at most maxConcurrent calls reach it, the queue is bounded, every call fails closed by its deadline, and STS answering again serves again', async () => {
    const minter = new CredentialMinter({ region: 'us-east-1', endpoint: sts.url, timeoutMs: 1_500, maxConcurrent: 2, maxQueued: 3, credentials: moto.admin });
    try {
      sts.mode = { kind: 'blackhole' };
      const seenBefore = sts.seen;
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => mintFor(minter, i)));
      const errors = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as unknown) : undefined));
      for (const error of errors) expect(error instanceof CountersignError && error.code === 'StsUnavailable', String(error)).toBe(true);
      const messages = errors.map((e) => (e as CountersignError).message);
      // 2 under way, 3 waiting; the other 5 were refused at once instead of piling up.
      expect(messages.filter((m) => m.includes('2 calls to STS are under way and 3 more are waiting'))).toHaveLength(5);
      // The admitted 5 ran out their deadline, under way or still waiting for a turn.
      expect(messages.filter((m) => /STS did not answer within 1500 ms|until the deadline/.test(m))).toHaveLength(5);
      expect(sts.peak).toBeLessThanOrEqual(2);
      expect(sts.seen - seenBefore).toBeLessThanOrEqual(5);
      expect(minter.stsCalls).toEqual({ running: 0, waiting: 0 });

      // Slower than the deadline: fails closed; a little slow: served.
      sts.mode = { kind: 'delay', ms: 4_000 };
      await expect(mintFor(minter, 100)).rejects.toMatchObject({ code: 'StsUnavailable' });
      sts.mode = { kind: 'delay', ms: 200 };
      const served = await mintFor(minter, 101);
      expect(served.cached).toBe(false);
      expect(served.credentials.sessionName).toBe('cs.reporter.req-101');
      // A failure is not cached: the blackholed policy's next request mints now.
      sts.mode = { kind: 'pass' };
      expect((await mintFor(minter, 0)).cached).toBe(false);
    } finally {
      sts.mode = { kind: 'pass' };
      minter.destroy();
    }
  });

  it('through countersign: a request fails closed with an AWS-shaped 503 while STS is blackholed, the replica stays ready, and serves again by itself once STS answers', async () => {
    const cs = await start({ ...countersignEnv(moto), COUNTERSIGN_UPSTREAM_OVERRIDES: `sts=${sts.url},*=${moto.endpoint}`, COUNTERSIGN_STS_TIMEOUT_SECONDS: '1' });
    expect(await identityOf(cs)).toMatchObject({ status: 'ok' });
    const env = agentEnv(cs, cs.issueAgent('reporter'));
    sts.mode = { kind: 'blackhole' };
    try {
      const [failed] = await boto3Calls(env, [getReport('q1.csv')]);
      expect(failed).toMatchObject({ ok: false, status: 503, code: 'ServiceUnavailable' });
      expect(failed?.message).toContain('STS did not answer within 1000 ms');
      expect((await readyz(cs)).status).toBe(200);
    } finally {
      sts.mode = { kind: 'pass' };
    }
    const [served] = await boto3Calls(env, [getReport('q1.csv')]);
    expect(served).toMatchObject({ ok: true, result: { Body: 'q1' } });
    const records = await cs.waitForRequests((r) => r.upstreamStatus === 200);
    expect(records).toHaveLength(1);
    // boto3 retries a 503 once: each attempt while STS was blackholed failed closed, none forwarded.
    const failed = cs.requests().filter((r) => r.upstreamStatus !== 200);
    expect(failed.length).toBeGreaterThan(0);
    for (const record of failed) expect(record).toMatchObject({ event: 'request.failed', errorCode: 'StsUnavailable' });
  });
});
