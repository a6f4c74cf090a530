// Two countersign replicas (the built CLI, `serve`) on Redis Sentinel, configured the way an
// operator would (COUNTERSIGN_REDIS_URL=redis-sentinel://...), moto (auth on) as AWS and boto3
// as the agent. The Redis primary is SIGKILLed while the agent's request is held (issue 15).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls } from '../support/boto3.js';
import { agentEnv, CLI, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { registerSecret } from '../support/evidence.js';
import { assumedRoles } from '../support/moto-state.js';
import { countersignEnv, seedS3, startMoto, type MotoServer } from '../support/moto.js';
import { startSentinelGroup, until, type SentinelGroup } from '../support/redis.js';

const policies = (moto: MotoServer) => ({
  'directory.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  cleaner: { owners: [olga] }
reviewers:
  olga: { name: Olga Owner }
  ann: { name: Ann Analyst }
`,
  'rules.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: deletes
    effect: approve
    agents: ["cleaner"]
    actions: ["s3:DeleteObject"]
    resources: ["arn:aws:s3:::scratch/*"]
    approval: { reviewers: [ann], holdTimeout: 3s }
    credentials: { roleArn: "${moto.roleArn}" }
`,
});

describe('Redis Sentinel failover under two countersign replicas', { timeout: 180_000 }, () => {
  let moto: MotoServer;
  let group: SentinelGroup;
  let a: CountersignProcess;
  let b: CountersignProcess;
  let agent: AgentKey;
  let annToken = '';

  beforeAll(async () => {
    [moto, group] = await Promise.all([startMoto(), startSentinelGroup()]);
    await seedS3(moto, 'scratch', { 'old.csv': 'old' });
    const root = mkdtempSync(path.join(tmpdir(), 'cs-sentinel-'));
    const dataDir = path.join(root, 'data');
    const policyDir = path.join(root, 'policies');
    mkdirSync(dataDir);
    mkdirSync(policyDir);
    for (const [name, text] of Object.entries(policies(moto))) writeFileSync(path.join(policyDir, name), text);
    // Issued into the data directory before the replicas start: they take it into the registry
    // in Redis as they start (the CLI without --server writes only the directory's file).
    agent = JSON.parse(execFileSync(process.execPath, [CLI, 'agents', 'issue', 'cleaner', '--json', '--force'], { env: { PATH: process.env.PATH ?? '', COUNTERSIGN_DATA_DIR: dataDir }, encoding: 'utf8' })) as AgentKey;
    registerSecret(agent.secretAccessKey);
    const env = {
      ...countersignEnv(moto),
      COUNTERSIGN_REDIS_URL: `redis-sentinel://${group.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${group.masterName}`,
      COUNTERSIGN_REDIS_REPLICA_TIMEOUT_MS: '1000',
    };
    a = await startCountersign({ policies: policyDir, dataDir, env });
    b = await startCountersign({ policies: policyDir, dataDir, env });
    annToken = /COUNTERSIGN_REVIEWER_TOKEN=(\S+)/.exec(a.cli(['reviewers', 'token', 'ann']))?.[1] ?? '';
    registerSecret(annToken);
  }, 120_000);

  afterAll(async () => {
    if (moto !== undefined) registerSecret(...(await assumedRoles(moto.endpoint)).flatMap((r) => [r.secret_access_key, r.session_token]));
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([moto?.stop(), group?.stop()]);
  });

  const deleteObject = { service: 's3', op: 'delete_object', params: { Bucket: 'scratch', Key: 'old.csv' } };
  const api = (cs: CountersignProcess, method: string, suffix: string) =>
    fetch(`${cs.reviewUrl}/api/v1/approvals${suffix}`, { method, headers: { authorization: `Bearer ${annToken}`, 'content-type': 'application/json' }, ...(method === 'POST' && { body: '{}' }) });

  it('a held request is answered when the primary dies; the request survives the promotion, and the retry goes through once approved, exactly once', async () => {
    const held = boto3Calls(agentEnv(a, agent, { AWS_MAX_ATTEMPTS: '1' }), [deleteObject]);
    let id = '';
    await until('the request to be pending', async () => {
      const listed = (await (await api(b, 'GET', '?status=pending')).json()) as { approvals: Array<{ id: string }> };
      id = listed.approvals[0]?.id ?? '';
      return id !== '';
    });
    const old = await group.primaryPort();
    await group.kill(old);
    const [answer] = await held;
    expect(answer).toMatchObject({ ok: false, status: 503 });
    expect(['ApprovalPending', 'ServiceUnavailable']).toContain(answer?.code);

    await until('the Sentinels to promote the replica', async () => (await group.primaryPort()) !== old);
    await group.restart(old);
    await group.replicated();

    // The reviewer approves on the other replica, against the promoted primary.
    await until('the approval to be taken', async () => (await api(b, 'POST', `/${id}/approve`)).status === 200);
    const [retried] = await boto3Calls(agentEnv(a, agent), [deleteObject]);
    expect(retried).toMatchObject({ ok: true });
    // The same delete again, on the other replica: the one use is spent, so it is a new request.
    const [again] = await boto3Calls(agentEnv(b, agent, { AWS_MAX_ATTEMPTS: '1' }), [deleteObject]);
    expect(again).toMatchObject({ ok: false, code: 'ApprovalPending', status: 503 });
    expect(again?.message).not.toContain(id);

    // Forwarded once, by replica A, with AWS's answer; nothing else went out on this approval.
    await a.waitForRequests((r) => r.approvalId === id && r.upstreamStatus === 204);
    expect([...a.requests(), ...b.requests()].filter((r) => r.approvalId === id && r.upstreamStatus !== undefined)).toHaveLength(1);
  });
});
