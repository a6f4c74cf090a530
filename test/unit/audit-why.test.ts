// The audit trail holds the why (issue 14): the agent's stated reason and context, every review
// with its comment, and the window, in the durable hash-chained log (a real file sink) and in
// `countersign audit export` (JSONL and CSV), not only in the approval record that expires.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReviewTokens } from '../../src/approvals/links.js';
import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import { ApprovalService } from '../../src/approvals/service.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { FileAuditSink } from '../../src/audit/file-sink.js';
import { createLogger } from '../../src/audit/logger.js';
import { classify } from '../../src/aws/classify/index.js';
import { parseQuery } from '../../src/aws/query-string.js';
import { auditCommands } from '../../src/cli/audit.js';
import { runCommand } from '../../src/cli/args.js';
import { CountersignError } from '../../src/errors.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { decide } from '../../src/policy/evaluate.js';
import { buildPolicySet } from '../../src/policy/load.js';

const POLICY = [
  `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  report-bot: { owners: [olga] }
reviewers:
  olga: { name: Olga }
  ann: { name: Ann }`,
  `apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: table-cleanup
    description: Dropping tables needs a yes from the data team.
    effect: approve
    agents: [report-bot]
    actions: ["dynamodb:DeleteTable"]
    resources: ["*"]
    approval: { reviewers: [ann], holdTimeout: 1s, maxWindow: 30m }
    credentials: { roleArn: "arn:aws:iam::123456789012:role/countersign-target" }`,
];

let dir: string;
let audit: AuditLog;
let service: ApprovalService;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'countersign-audit-why-'));
  const sink = new FileAuditSink(join(dir, 'audit.jsonl'));
  audit = new AuditLog(createLogger('silent'), sink, 'test-replica');
  const policy = compilePolicySet(buildPolicySet(POLICY.map((text, i) => ({ path: `p${i}.yaml`, text }))));
  service = new ApprovalService({
    store: new MemoryApprovalStore(),
    directory: () => policy.directory,
    tokens: new ReviewTokens(Buffer.alloc(32, 3)),
    notifiers: [],
    reviewBaseUrl: () => 'http://127.0.0.1:1',
    maxBufferedBodyBytes: 1 << 20,
    logger: createLogger('silent'),
    audit: (event) => audit.emit(event),
    auditHealthy: () => audit.healthy,
  });
  sendTo = async () => {
    const body = Buffer.from('{"TableName":"scratch-2026"}');
    const headers = { 'x-amz-target': 'DynamoDB_20120810.DeleteTable', 'content-type': 'application/x-amz-json-1.0', 'x-countersign-reason': 'Cleaning up the scratch table, "as agreed", =1+1', 'x-countersign-context': 'run 42' };
    const classification = classify({ method: 'POST', host: 'dynamodb.us-east-1.amazonaws.com', rawPath: '/', query: parseQuery(''), headers, body, service: 'dynamodb', region: 'us-east-1' });
    const decision = decide(policy, { agent: 'report-bot', service: 'dynamodb', region: 'us-east-1', needs: classification.needs, parameters: classification.parameters });
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 50);
    try {
      const held = await service.hold({ requestId: randomUUID(), agent: 'report-bot', classification, decision, method: 'POST', host: 'dynamodb.us-east-1.amazonaws.com', rawPath: '/', rawQuery: '', headers, rawHeaders: Object.entries(headers).flat(), body, stream: Readable.from([]), signal: abort.signal });
      return { go: true, approvalId: held.approvalId };
    } catch (error) {
      if (!(error instanceof CountersignError)) throw error;
      return { go: false, approvalId: error.headers['x-countersign-approval-id'] };
    } finally {
      clearTimeout(timer);
    }
  };
});
afterAll(async () => {
  await audit?.close();
  rmSync(dir, { recursive: true, force: true });
});

let sendTo: () => Promise<{ go: boolean; approvalId: string | undefined }>;

async function exportAudit(...argv: string[]): Promise<string[]> {
  const out: string[] = [];
  const command = auditCommands.commands.find((c) => c.spec.name === 'audit export');
  if (command === undefined) throw new Error('no audit export command');
  const code = await runCommand(command, argv, { out: (line) => out.push(line), err: (line) => out.push(`ERR ${line}`), env: { COUNTERSIGN_DATA_DIR: dir, COUNTERSIGN_AUDIT_SINK: 'file' } });
  expect(code, out.join('\n')).toBe(0);
  return out;
}

describe('the audit trail holds the why', () => {
  it("keeps the agent's reason and context, the review's comment and the window, in the durable log and in audit export", async () => {
    const first = await sendTo();
    expect(first.go).toBe(false);
    const id = first.approvalId ?? '';
    expect(await service.review({ id, reviewer: 'ann', decision: 'approve', comment: 'ok for the cleanup, 20 min', via: 'api', windowMinutes: 20 })).toMatchObject({ ok: true });
    expect(await sendTo()).toEqual({ go: true, approvalId: id });
    await audit.flush();

    const records = (await exportAudit()).map((line) => JSON.parse(line) as Record<string, unknown>).filter((r) => r.approvalId === id);
    expect(records.find((r) => r.event === 'approval.requested')).toMatchObject({ agent: 'report-bot', agentReason: 'Cleaning up the scratch table, "as agreed", =1+1', agentContext: 'run 42', operation: 'DeleteTable', maxWindowMinutes: 30 });
    expect(records.find((r) => r.event === 'approval.reviewed')).toMatchObject({ reviewer: 'ann', decision: 'approve', comment: 'ok for the cleanup, 20 min', windowMinutes: 20, approvedFor: 'window', window: 20, accepted: true, status: 'approved' });
    expect(records.find((r) => r.event === 'approval.consumed')).toMatchObject({ agent: 'report-bot', approvedFor: 'window', window: 20, agentReason: 'Cleaning up the scratch table, "as agreed", =1+1' });

    const csv = await exportAudit('--format', 'csv', '--agent', 'report-bot');
    const header = (csv[0] ?? '').split(',');
    for (const column of ['agentReason', 'agentContext', 'comment', 'windowMinutes', 'approvedFor', 'window', 'approvedUntil']) expect(header).toContain(column);
    const reviewed = csv.find((line) => line.includes(',approval.reviewed,')) ?? '';
    expect(reviewed).toContain('"ok for the cleanup, 20 min"');
    expect(reviewed).toContain(',window,20,');
    // The agent's words, quoted (RFC 4180), with a leading = made inert for spreadsheets only at a cell's start.
    const requested = csv.find((line) => line.includes(',approval.requested,')) ?? '';
    expect(requested).toContain('"Cleaning up the scratch table, ""as agreed"", =1+1",run 42');
  });
});
