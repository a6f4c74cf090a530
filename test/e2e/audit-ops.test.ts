// The audit trail and operations of a running countersign: the durable hash-chained log (file
// sink), `audit verify` and `audit export`, agent key events, /metrics, and a graceful SIGTERM
// that answers held requests and flushes the log.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boto3Calls } from '../support/boto3.js';
import { agentEnv, CLI, startCountersign, type AgentKey, type CountersignProcess } from '../support/countersign.js';
import { countersignEnv, seedS3, startMoto, type MotoServer } from '../support/moto.js';

describe('audit trail and operations', { timeout: 120_000 }, () => {
  let moto: MotoServer;
  let cs: CountersignProcess;
  let agent: AgentKey;

  beforeAll(async () => {
    moto = await startMoto();
    await seedS3(moto, 'ledger', { 'q3.csv': 'ledger q3' });
    cs = await startCountersign({
      policies: {
        'rules.yaml': `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: ledger-reads
    effect: allow
    agents: ["auditor"]
    actions: ["s3:GetObject"]
    resources: ["arn:aws:s3:::ledger/*"]
    credentials: { roleArn: "${moto.roleArn}", sessionTags: { team: finance } }
  - name: ledger-writes-need-approval
    effect: approve
    agents: ["auditor"]
    actions: ["s3:PutObject"]
    resources: ["arn:aws:s3:::ledger/*"]
    approval: { reviewers: [rita], holdTimeout: 60s }
    credentials: { roleArn: "${moto.roleArn}" }
---
apiVersion: countersign.dev/v1alpha1
kind: Directory
reviewers:
  rita: { name: Rita Reviewer }
`,
      },
      env: { ...countersignEnv(moto), COUNTERSIGN_SHUTDOWN_GRACE_SECONDS: '5' },
    });
    agent = cs.issueAgent('auditor');
    const outcomes = await boto3([
      { service: 's3', op: 'get_object', params: { Bucket: 'ledger', Key: 'q3.csv' }, read_body: true },
      { service: 's3', op: 'get_object', params: { Bucket: 'ledger', Key: 'missing.csv' } },
      { service: 's3', op: 'delete_object', params: { Bucket: 'ledger', Key: 'q3.csv' } },
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, false]);
  });

  afterAll(async () => {
    await cs?.stop();
    await moto?.stop();
  });

  function boto3(calls: unknown[]) {
    return boto3Calls(agentEnv(cs, agent), calls);
  }

  function countersign(args: string[]) {
    const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', COUNTERSIGN_DATA_DIR: cs.dataDir, COUNTERSIGN_POLICY_DIR: cs.policyDir } });
    return { code: result.status, out: result.stdout + result.stderr };
  }

  type AuditRecordLine = Record<string, unknown>;

  /** The audit file once `ready` holds of it (the writer flushes every 50 ms, later on a busy disk). */
  async function auditLinesWhen(ready: (records: AuditRecordLine[]) => boolean): Promise<AuditRecordLine[]> {
    const read = () => {
      const text = readFileSync(path.join(cs.dataDir, 'audit.jsonl'), 'utf8');
      // Whole lines only: a batch may be half-written when read.
      return text.slice(0, text.lastIndexOf('\n') + 1).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecordLine);
    };
    const deadline = Date.now() + 15_000;
    let records = read();
    while (!ready(records) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      records = read();
    }
    return records;
  }

  it('writes every event to a durable hash-chained log that audit verify accepts', async () => {
    const records = await auditLinesWhen(
      (rs) => rs.filter((r) => r.event === 'request.decided').length >= 3 && rs.some((r) => r.event === 'request.forwarded') && rs.some((r) => r.event === 'request.failed'),
    );
    const events = records.map((r) => r.event);
    expect(events).toContain('policy.loaded');
    expect(events.filter((e) => e === 'request.decided').length).toBeGreaterThanOrEqual(3);
    const forwarded = records.find((r) => r.event === 'request.forwarded' && r.upstreamStatus === 200);
    expect(forwarded).toMatchObject({ agent: 'auditor', decision: 'allow', rules: ['ledger-reads'], actions: ['s3:GetObject'], resources: ['arn:aws:s3:::ledger/q3.csv'], seq: expect.any(Number) as number, prev: expect.stringMatching(/^[0-9a-f]{64}$/) as string });
    expect(records.find((r) => r.event === 'request.failed' && r.errorCode === 'AccessDenied')).toMatchObject({ decision: 'deny', reasons: ['NO_RULE_MATCHED'] });
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1));
    const { code, out } = countersign(['audit', 'verify']);
    expect(out).toMatch(/^ok: \d+ records, chain intact; head seq \d+ hash [0-9a-f]{64}/);
    expect(code).toBe(0);
  });

  it('records agent keys issued and revoked while running', async () => {
    const temp = cs.issueAgent('temp-bot');
    cs.cli(['agents', 'revoke', temp.accessKeyId]);
    // The proxy looks at the registry when agents call, at most every 250 ms.
    await new Promise((r) => setTimeout(r, 300));
    await boto3([{ service: 's3', op: 'get_object', params: { Bucket: 'ledger', Key: 'q3.csv' } }]);
    const records = await auditLinesWhen((rs) => rs.some((r) => r.event === 'agent.key_revoked' && r.accessKeyId === temp.accessKeyId));
    expect(records.find((r) => r.event === 'agent.key_issued' && r.accessKeyId === temp.accessKeyId)).toMatchObject({ agent: 'temp-bot' });
    expect(records.find((r) => r.event === 'agent.key_revoked' && r.accessKeyId === temp.accessKeyId)).toMatchObject({ agent: 'temp-bot', revokedAt: expect.any(String) as string });
  });

  it('exports by filter as JSONL and CSV', () => {
    const jsonl = countersign(['audit', 'export', '--event', 'request.forwarded', '--agent', 'auditor']);
    const lines = jsonl.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.event === 'request.forwarded' && l.agent === 'auditor')).toBe(true);
    const csv = countersign(['audit', 'export', '--decision', 'deny', '--format', 'csv']).out.trim().split('\n');
    expect(csv[0]).toBe('seq,at,event,requestId,agent,service,operation,actions,resources,decision,rules,reasons,approvalId,approvers,reviewer,stsSession,upstreamStatus,status,errorCode,hash,agentReason,agentContext,comment,via,windowMinutes,approvedFor,window,approvedUntil,refusal');
    expect(csv.slice(1).every((row) => row.includes(',deny,'))).toBe(true);
    expect(csv.length).toBeGreaterThan(1);
    expect(countersign(['audit', 'export', '--since', 'yesterday']).code).toBe(2);
  });

  it('serves Prometheus metrics with bounded labels', async () => {
    const text = await (await fetch(`${cs.adminUrl}/metrics`)).text();
    expect(text).toMatch(/countersign_requests_total\{decision="allow",service="s3",outcome="upstream_2xx"\} \d+/);
    expect(text).toMatch(/countersign_requests_total\{decision="deny",service="s3",outcome="AccessDenied"\} \d+/);
    expect(text).toMatch(/countersign_sts_credentials_total\{cache="miss"\} \d+/);
    expect(text).toContain('countersign_upstream_seconds_bucket{le="0.005",service="s3"}');
    expect(text).toMatch(/countersign_audit_sink_healthy 1/);
    expect(text).toMatch(/countersign_tls_leaf_cache_size \d+/);
    expect(text).toMatch(/countersign_policy_reloads_total\{result="ok"\} 1/);
    // No request's resource ever becomes a label; the one ARN is countersign's own identity,
    // one series per process (countersign_aws_identity_info).
    const withArn = text.split('\n').filter((line) => line.includes('arn:aws'));
    expect(withArn.every((line) => line.startsWith('countersign_aws_identity_info{'))).toBe(true);
    expect(withArn.length).toBeLessThanOrEqual(1);
  });

  it('detects an edited audit record', () => {
    const file = path.join(cs.dataDir, 'audit.jsonl');
    const original = readFileSync(file, 'utf8');
    const lines = original.trimEnd().split('\n');
    lines[2] = (lines[2] ?? '').replace(/"event":"[a-z.]+"/, '"event":"policy.loaded","forged":true');
    writeFileSync(file, lines.join('\n') + '\n');
    const { code, out } = countersign(['audit', 'verify']);
    expect(code).toBe(1);
    expect(out).toMatch(/^BROKEN at record #3 \(seq 3\): record 3 was altered/);
    writeFileSync(file, original);
  });

  it('on SIGTERM answers held requests with ApprovalPending, flushes the audit log and exits', async () => {
    const held = boto3([{ service: 's3', op: 'put_object', params: { Bucket: 'ledger', Key: 'new.csv', Body: 'x' } }]);
    const deadline = Date.now() + 10_000;
    while (!readFileSync(path.join(cs.dataDir, 'audit.jsonl'), 'utf8').includes('"approval.requested"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await cs.stop();
    const [outcome] = await held;
    expect(outcome).toMatchObject({ ok: false, code: 'ApprovalPending', status: 503 });
    const records = readFileSync(path.join(cs.dataDir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.find((r) => r.event === 'request.failed' && r.errorCode === 'ApprovalPending')).toBeDefined();
    expect(countersign(['audit', 'verify']).code).toBe(0);
  });
});
