// Human approval end to end: two countersign replicas sharing a real Redis, moto (auth on) as
// AWS, boto3 as the agent, a local receiver catching the signed webhook with review links.
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls } from '../support/boto3.js';
import { agentEnv, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { assumedRoles } from '../support/moto-state.js';
import { countersignEnv, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const WEBHOOK_SECRET = 'webhook-secret-for-tests-0123456789';

interface Notice {
  approval: { id: string; status: string; context: { agent: string; agentReason?: string } };
  reviewLinks: Array<{ reviewer: string; url: string }>;
}

function policies(moto: MotoServer): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-approvals-policies-'));
  writeFileSync(
    path.join(dir, 'directory.yaml'),
    `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  exporter: { owners: [olga] }
reviewers:
  olga: { name: Olga Owner, groups: [data-owners] }
  ann: { name: Ann Analyst, groups: [data-owners], email: ann@example.com }
  bob: { name: Bob Builder, groups: [data-owners] }
groups:
  data-owners: {}
`,
  );
  const approve = (name: string, bucket: string, extra: string) => `  - name: ${name}
    effect: approve
    agents: ["exporter"]
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::${bucket}/*"]
    approval: { groups: [data-owners], ${extra} }
    credentials: { roleArn: "${moto.roleArn}" }
`;
  writeFileSync(
    path.join(dir, 'rules.yaml'),
    `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
${approve('exports', 'exports', 'holdTimeout: 30s')}${approve('quick', 'quick', 'holdTimeout: 1s')}${approve('two-person', 'sensitive', 'quorum: 2, holdTimeout: 1s')}  - name: public-reads
    effect: allow
    agents: ["*"]
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::public/*"]
    credentials: { roleArn: "${moto.roleArn}" }
`,
  );
  return dir;
}

describe('human approval across two replicas', { timeout: 180_000 }, () => {
  let moto: MotoServer;
  let redis: RedisServer;
  let a: CountersignProcess;
  let b: CountersignProcess;
  let receiver: Server;
  const notices: Notice[] = [];
  const rawNotices: Array<{ headers: Record<string, string | string[] | undefined>; body: string }> = [];
  let agent: AgentKey;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    [moto, redis] = await Promise.all([startMoto(), startRedis()]);
    for (const bucket of ['exports', 'quick', 'sensitive', 'public']) await seedS3(moto, bucket, { 'a.csv': `${bucket} a`, 'b.csv': `${bucket} b`, 'c.csv': `${bucket} c` });
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        rawNotices.push({ headers: req.headers, body });
        notices.push(JSON.parse(body) as Notice);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'cs-approvals-data-')), 'data');
    mkdirSync(dataDir);
    const policyDir = policies(moto);
    const env = {
      ...countersignEnv(moto),
      COUNTERSIGN_REDIS_URL: redis.url,
      COUNTERSIGN_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      COUNTERSIGN_WEBHOOK_SECRET: WEBHOOK_SECRET,
    };
    a = await startCountersign({ policies: policyDir, dataDir, env });
    b = await startCountersign({ policies: policyDir, dataDir, env });
    agent = a.issueAgent('exporter');
    for (const reviewer of ['olga', 'ann', 'bob']) tokens[reviewer] = /COUNTERSIGN_REVIEWER_TOKEN=(\S+)/.exec(a.cli(['reviewers', 'token', reviewer]))?.[1] ?? '';
    registerSecret(...Object.values(tokens));
  });

  afterAll(async () => {
    // Review link tokens and minted STS credentials, for the suite-wide secrets check.
    registerSecret(...notices.flatMap((n) => n.reviewLinks.map((l) => new URL(l.url).searchParams.get('t') ?? undefined)));
    if (moto !== undefined) registerSecret(...(await assumedRoles(moto.endpoint)).flatMap((r) => [r.secret_access_key, r.session_token]));
    await Promise.all([a?.stop(), b?.stop()]);
    receiver?.close();
    await Promise.all([moto?.stop(), redis?.stop()]);
  });

  function boto3(cs: CountersignProcess, calls: unknown[], extra: Record<string, string> = {}) {
    return boto3Calls(agentEnv(cs, agent, extra), calls);
  }
  const getObject = (bucket: string, key: string) => ({ service: 's3', op: 'get_object', params: { Bucket: bucket, Key: key }, read_body: true });

  async function noticeFor(predicate: (n: Notice) => boolean): Promise<Notice> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = notices.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error('no webhook notice arrived');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  function api(cs: CountersignProcess, reviewer: string, method: string, suffix: string, body?: object) {
    return fetch(`${cs.reviewUrl}/api/v1/approvals${suffix}`, {
      method,
      headers: { authorization: `Bearer ${tokens[reviewer] ?? ''}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  }

  it('holds the request on replica A, takes the approval on replica B, and A forwards: the agent gets AWS’s real answer', async () => {
    const held = boto3(a, [getObject('exports', 'a.csv')], { AWS_MAX_ATTEMPTS: '1' });
    const notice = await noticeFor((n) => n.approval.context.agent === 'exporter' && n.approval.status === 'pending');
    expect(notice.reviewLinks.map((l) => l.reviewer).sort()).toEqual(['ann', 'bob']); // olga owns the agent
    const raw = rawNotices.find((r) => r.body.includes(notice.approval.id));
    const timestamp = String(raw?.headers['x-countersign-timestamp']);
    expect(raw?.headers['x-countersign-signature']).toBe(`v1=${createHmac('sha256', WEBHOOK_SECRET).update(`${timestamp}.${raw?.body ?? ''}`).digest('hex')}`);

    const approved = await api(b, 'ann', 'POST', `/${notice.approval.id}/approve`, { comment: 'quarterly export, fine' });
    expect(approved.status).toBe(200);
    const [outcome] = await held;
    expect(outcome).toMatchObject({ ok: true, result: { Body: 'exports a' } });
    const [record] = await a.waitForRequests((r) => r.approvalId === notice.approval.id && r.upstreamStatus === 200);
    expect(record).toMatchObject({ decision: 'approve', approvers: ['ann'], rules: ['exports'] });
  });

  it('a GET of every review link changes nothing; only a POST with the page’s CSRF token decides', async () => {
    const first = await boto3(a, [getObject('quick', 'a.csv')]);
    expect(first[0]).toMatchObject({ ok: false, code: 'ApprovalPending', status: 503 });
    const id = /Approval request ([0-9a-f-]{36})/.exec(first[0]?.message ?? '')?.[1] ?? '';
    const notice = await noticeFor((n) => n.approval.id === id);
    for (const link of notice.reviewLinks) {
      const page = await fetch(link.url.replace(/^http:\/\/127\.0\.0\.1:\d+/, b.reviewUrl));
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<form method="post"');
    }
    expect(((await (await api(a, 'bob', 'GET', `/${id}`)).json()) as { approval: { status: string } }).approval.status).toBe('pending');

    const annLink = notice.reviewLinks.find((l) => l.reviewer === 'ann')?.url ?? '';
    const token = new URL(annLink).searchParams.get('t') ?? '';
    const forged = await fetch(`${b.reviewUrl}/approvals/${id}/decision`, { method: 'POST', body: new URLSearchParams({ t: token, decision: 'approve', csrf: 'forged' }) });
    expect(forged.status).toBe(403);
    const pageHtml = await (await fetch(`${b.reviewUrl}/approvals/${id}?t=${encodeURIComponent(token)}`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(pageHtml)?.[1] ?? '';
    const form = new URLSearchParams({ t: token, decision: 'deny', comment: 'not <b>now</b>', csrf });
    const denied = await fetch(`${b.reviewUrl}/approvals/${id}/decision`, { method: 'POST', body: form });
    expect(await denied.text()).toContain('Recorded: you denied this request.');
    const replayed = await fetch(`${a.reviewUrl}/approvals/${id}/decision`, { method: 'POST', body: form });
    expect(await replayed.text()).toContain('This request was already decided.');

    const retry = await boto3(a, [getObject('quick', 'a.csv')]);
    expect(retry[0]).toMatchObject({ ok: false, code: 'AccessDenied', status: 403 });
    expect(retry[0]?.message).toContain('Reviewer ann denied this request: "not <b>now</b>"');
  });

  it('hold timeout, then a retry of the same request proceeds once approved, without a second request; the approved read serves the same read again while valid (one intent, one use)', async () => {
    const first = await boto3(a, [getObject('quick', 'b.csv')]);
    const id = /Approval request ([0-9a-f-]{36})/.exec(first[0]?.message ?? '')?.[1] ?? '';
    expect(first[0]?.message).toContain('Retry the same request after it is approved');
    const again = await boto3(b, [getObject('quick', 'b.csv')]);
    expect(again[0]?.message).toContain(id); // the retry joined the same request
    expect((await api(b, 'bob', 'POST', `/${id}/approve`, {})).status).toBe(200);
    const retried = await boto3(b, [getObject('quick', 'b.csv')]);
    expect(retried[0]).toMatchObject({ ok: true, result: { Body: 'quick b' } });
    const third = await boto3(a, [getObject('quick', 'b.csv')]);
    expect(third[0]).toMatchObject({ ok: true, result: { Body: 'quick b' } });
    const records = await a.waitForRequests((r) => r.approvalId === id && r.upstreamStatus === 200);
    expect(records).toHaveLength(1); // replica A served the third; B the second
    expect(((await (await api(a, 'bob', 'GET', `/${id}`)).json()) as { approval: { status: string; usesLeft: number } }).approval).toMatchObject({ status: 'approved', usesLeft: 0 });
  });

  it('an approval for one object never serves another', async () => {
    const forA = await boto3(a, [getObject('quick', 'a.csv')]);
    const idA = /Approval request ([0-9a-f-]{36})/.exec(forA[0]?.message ?? '')?.[1] ?? '';
    await api(a, 'ann', 'POST', `/${idA}/approve`, {});
    const otherKey = await boto3(a, [{ ...getObject('quick', 'c.csv') }]);
    expect(otherKey[0]).toMatchObject({ ok: false, code: 'ApprovalPending' });
    expect(otherKey[0]?.message).not.toContain(idA);
  });

  it('quorum 2: the same reviewer twice counts once; owners cannot approve their agent; agent credentials cannot reach the review API', async () => {
    const held = await boto3(a, [getObject('sensitive', 'a.csv')]);
    const id = /Approval request ([0-9a-f-]{36})/.exec(held[0]?.message ?? '')?.[1] ?? '';
    expect((await api(a, 'ann', 'POST', `/${id}/approve`, {})).status).toBe(200);
    const twice = await api(b, 'ann', 'POST', `/${id}/approve`, {});
    expect(twice.status).toBe(409);
    expect(await twice.json()).toMatchObject({ reason: 'already_reviewed' });
    const owner = await api(b, 'olga', 'POST', `/${id}/approve`, {});
    expect(await owner.json()).toMatchObject({ reason: 'owner' });
    const asAgent = await fetch(`${a.reviewUrl}/api/v1/approvals/${id}/approve`, {
      method: 'POST',
      headers: { authorization: `AWS4-HMAC-SHA256 Credential=${agent.accessKeyId}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}` },
    });
    expect(asAgent.status).toBe(403);
    expect(((await (await api(b, 'bob', 'GET', `/${id}`)).json()) as { approval: { status: string } }).approval.status).toBe('pending');
    expect((await api(b, 'bob', 'POST', `/${id}/approve`, {})).status).toBe(200);
    expect((await boto3(b, [getObject('sensitive', 'a.csv')]))[0]).toMatchObject({ ok: true, result: { Body: 'sensitive a' } });
  });

  it('with Redis down, approve rules fail closed with a clear error and allow rules keep working', async () => {
    await redis.stop();
    try {
      const [held, open] = await boto3(a, [getObject('quick', 'a.csv'), getObject('public', 'a.csv')]);
      expect(held).toMatchObject({ ok: false, code: 'ServiceUnavailable', status: 503 });
      expect(held?.message).toContain('approval store (Redis)');
      expect(open).toMatchObject({ ok: true, result: { Body: 'public a' } });
      // Degraded, not unready: taking every replica out of the Service would stop allow rules too.
      const ready = await fetch(`${a.adminUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'degraded', degraded: expect.arrayContaining(['redis']) as unknown, checks: { redis: { ok: false } } });
    } finally {
      redis = await startRedis(redis.port);
    }
  });
});
