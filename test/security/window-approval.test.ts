// Approve for a while (issue 14) is longer, never broader: a reviewer's window serves the same
// agent doing exactly the same action on exactly the same resource with the same parameters,
// only where the rules allow one, and never past their maxWindow. The real classifier, policy and
// ApprovalService run over the in-memory store and a real Redis (its Lua scripts).
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalStore } from '../../src/approvals/types.js';
import { ApprovalHarness, ROLE, storeFactories, type RawRequest } from '../support/approval-harness.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const EMPTY = createHash('sha256').update('').digest('hex');

/** DynamoDB and S3 reads may be approved for up to 30 minutes; S3 writes and IAM only once. */
const POLICY = `apiVersion: countersign.dev/v1alpha1
kind: Directory
agents:
  bot: { owners: [olga] }
  other-bot: { owners: [olga] }
reviewers:
  olga: { name: Olga }
  ann: { name: Ann }
  bob: { name: Bob }
---
apiVersion: countersign.dev/v1alpha1
kind: Policy
rules:
  - name: dynamodb
    effect: approve
    agents: ["bot", "other-bot"]
    actions: ["dynamodb:*"]
    resources: ["*"]
    approval: { reviewers: [ann, bob], holdTimeout: 1s, maxWindow: 30m }
    credentials: { roleArn: "${ROLE}" }
  - name: s3-reads
    effect: approve
    agents: ["bot"]
    actions: ["s3:GetObject*"]
    resources: ["*"]
    approval: { reviewers: [ann, bob], holdTimeout: 1s, maxWindow: 30m }
    credentials: { roleArn: "${ROLE}" }
  - name: s3-writes
    effect: approve
    agents: ["bot"]
    actions: ["s3:PutObject*"]
    resources: ["*"]
    approval: { reviewers: [ann, bob], holdTimeout: 1s }
    credentials: { roleArn: "${ROLE}" }
  - name: iam
    effect: approve
    agents: ["bot"]
    actions: ["iam:*"]
    resources: ["*"]
    approval: { reviewers: [ann, bob], holdTimeout: 1s }
    credentials: { roleArn: "${ROLE}" }
`;

const dynamo = (operation: string, body: string, over: Partial<RawRequest> = {}): RawRequest => ({
  service: 'dynamodb',
  method: 'POST',
  host: 'dynamodb.us-east-1.amazonaws.com',
  target: '/',
  headers: [['X-Amz-Target', `DynamoDB_20120810.${operation}`], ['Content-Type', 'application/x-amz-json-1.0']],
  body,
  ...over,
});
const deleteTable = (table: string, over: Partial<RawRequest> = {}) => dynamo('DeleteTable', JSON.stringify({ TableName: table }), over);
const s3 = (method: string, target: string, headers: Array<[string, string]> = []): RawRequest => ({ service: 's3', method, host: 'b.s3.amazonaws.com', target, headers: [['x-amz-content-sha256', EMPTY], ...headers] });

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe.each(storeFactories(() => redis.url))('approve for a while, %s store', (_name, makeStore) => {
  let store: ApprovalStore;
  let harness: ApprovalHarness;
  beforeAll(() => {
    store = makeStore();
    harness = new ApprovalHarness(store, POLICY);
  });
  afterAll(async () => {
    await store.close();
  });

  /** Sends, expects a new pending approval, and returns its id. */
  async function pending(request: RawRequest): Promise<string> {
    const first = await harness.send(request, 50);
    if (first.go || first.code !== 'ApprovalPending' || first.approvalId === undefined) throw new Error(`expected a new pending approval, got ${JSON.stringify(first)}`);
    return first.approvalId;
  }

  const approveFor = (id: string, windowMinutes: number | undefined) => harness.service.review({ id, reviewer: 'ann', decision: 'approve', comment: '', via: 'api', ...(windowMinutes !== undefined && { windowMinutes }) });

  it('a window approval never covers another resource, another action, another region or another agent', async () => {
    const id = await pending(deleteTable('orders'));
    expect(await approveFor(id, 30)).toMatchObject({ ok: true, record: { status: 'approved', windowMinutes: 30 } });
    // The same call again and again, while the window is open: no new review.
    expect(await harness.send(deleteTable('orders'))).toEqual({ go: true, approvalId: id });
    expect(await harness.send(deleteTable('orders'))).toEqual({ go: true, approvalId: id });
    for (const other of [deleteTable('customers'), dynamo('DescribeTable', '{"TableName":"orders"}'), deleteTable('orders', { region: 'eu-west-1', host: 'dynamodb.eu-west-1.amazonaws.com' }), deleteTable('orders', { agent: 'other-bot' })]) {
      const result = await harness.send(other, 50);
      expect(result, JSON.stringify(other)).toMatchObject({ go: false, code: 'ApprovalPending' });
      expect(result.approvalId).not.toBe(id);
    }
    expect((await store.get(id, Date.now()))?.timesUsed).toBe(2);
  });

  it('a window approval never covers the same action on the same resource with other parameters', async () => {
    const scan = (limit: string) => dynamo('DeleteItem', JSON.stringify({ TableName: 'orders', Key: { id: { S: limit } } }));
    const id = await pending(scan('o-1'));
    await approveFor(id, 10);
    expect(await harness.send(scan('o-1'))).toEqual({ go: true, approvalId: id });
    const other = await harness.send(scan('o-2'), 50);
    expect(other).toMatchObject({ go: false, code: 'ApprovalPending' });
    expect(other.approvalId).not.toBe(id);
  });

  it("a window cannot exceed the rule's maxWindow: refused, nothing decided", async () => {
    const id = await pending(deleteTable('too-long'));
    expect(await approveFor(id, 31)).toMatchObject({ ok: false, reason: 'window_too_long' });
    expect(await approveFor(id, 0)).toMatchObject({ ok: false, reason: 'window_not_allowed' });
    expect(await approveFor(id, 2.5)).toMatchObject({ ok: false, reason: 'window_not_allowed' });
    expect(await store.get(id, Date.now())).toMatchObject({ status: 'pending', reviews: [] });
  });

  it('a window is never granted where the rule sets no maxWindow, nor on a deny', async () => {
    const id = await pending({ service: 'iam', method: 'POST', host: 'iam.amazonaws.com', target: '/', headers: [['Content-Type', 'application/x-www-form-urlencoded; charset=utf-8']], body: 'Action=DeleteRole&Version=2010-05-08&RoleName=ops' });
    expect(await approveFor(id, 5)).toMatchObject({ ok: false, reason: 'window_not_allowed' });
    const table = await pending(deleteTable('deny-window'));
    expect(await harness.service.review({ id: table, reviewer: 'ann', decision: 'deny', comment: 'no', via: 'api', windowMinutes: 5 })).toMatchObject({ ok: false, reason: 'window_not_allowed' });
    expect(await store.get(id, Date.now())).toMatchObject({ status: 'pending', reviews: [] });
    expect(await store.get(table, Date.now())).toMatchObject({ status: 'pending', reviews: [] });
  });

  it('a request decided by two approve rules gets a window only when both allow one (CopyObject reads under one, writes under another)', async () => {
    const id = await pending(s3('PUT', '/copy-of-report.csv', [['x-amz-copy-source', '/b/report.csv']]));
    const record = await store.get(id, Date.now());
    expect(record?.context.rules).toEqual(expect.arrayContaining(['s3-reads', 's3-writes']));
    expect(record).not.toHaveProperty('maxWindowMs');
    expect(await approveFor(id, 5)).toMatchObject({ ok: false, reason: 'window_not_allowed' });
  });

  it('a reload that takes maxWindow away, or shortens it, stops an open window', async () => {
    const id = await pending(deleteTable('reloaded'));
    await approveFor(id, 30);
    expect(await harness.send(deleteTable('reloaded'))).toEqual({ go: true, approvalId: id });
    try {
      harness.reload(POLICY.replace('approval: { reviewers: [ann, bob], holdTimeout: 1s, maxWindow: 30m }', 'approval: { reviewers: [ann, bob], holdTimeout: 1s, maxWindow: 10m }'));
      expect(await harness.send(deleteTable('reloaded'), 50)).toMatchObject({ go: false, code: 'ApprovalMismatch' });
      harness.reload(POLICY.replace('approval: { reviewers: [ann, bob], holdTimeout: 1s, maxWindow: 30m }', 'approval: { reviewers: [ann, bob], holdTimeout: 1s }'));
      expect(await harness.send(deleteTable('reloaded'), 50)).toMatchObject({ go: false, code: 'ApprovalMismatch' });
      // Another request of the same binding is not found by the window at all: it asks anew.
      const other = await harness.send(deleteTable('reloaded', { headers: [['X-Amz-Target', 'DynamoDB_20120810.DeleteTable'], ['Content-Type', 'application/x-amz-json-1.0'], ['X-Amz-Meta-Run', '2']] }), 50);
      expect(other).toMatchObject({ go: false, code: 'ApprovalPending' });
      expect(other.approvalId).not.toBe(id);
    } finally {
      harness.reload(POLICY);
    }
    expect((await store.get(id, Date.now()))?.timesUsed).toBe(1);
  });

  it('an S3 read approved for a while serves the same object only', async () => {
    const id = await pending(s3('GET', '/daily/report.csv'));
    await approveFor(id, 30);
    expect(await harness.send(s3('GET', '/daily/report.csv'))).toEqual({ go: true, approvalId: id });
    const other = await harness.send(s3('GET', '/daily/payroll.csv'), 50);
    expect(other).toMatchObject({ go: false, code: 'ApprovalPending' });
    expect(other.approvalId).not.toBe(id);
  });
});
