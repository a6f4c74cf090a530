// An approval is for exactly what the reviewer saw (issue 11): each attack below was tried with
// an agent key and one reviewer's "approve". The real classifier, policy and ApprovalService run
// over the in-memory store and a real Redis.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bind } from '../../src/approvals/binding.js';
import type { ApprovalStore } from '../../src/approvals/types.js';
import { classify } from '../../src/aws/classify/index.js';
import { parseQuery } from '../../src/aws/query-string.js';
import { compilePolicySet } from '../../src/policy/compile.js';
import { decide } from '../../src/policy/evaluate.js';
import { buildPolicySet } from '../../src/policy/load.js';
import { ApprovalHarness, approvalPolicy, OTHER_ROLE, ROLE, storeFactories, type RawRequest } from '../support/approval-harness.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const EMPTY = sha('');

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const deleteTable = (region: string): RawRequest => {
  const body = '{"TableName":"orders"}';
  return {
    service: 'dynamodb',
    region,
    method: 'POST',
    host: '127.0.0.1:8080',
    target: '/',
    headers: [['X-Amz-Target', 'DynamoDB_20120810.DeleteTable'], ['Content-Type', 'application/x-amz-json-1.0']],
    body,
  };
};

const s3 = (method: string, target: string, headers: Array<[string, string]> = [], body?: string): RawRequest => ({
  service: 's3',
  method,
  host: 'b.s3.amazonaws.com',
  target,
  headers: [['x-amz-content-sha256', body === undefined ? EMPTY : sha(body)], ...headers],
  ...(body !== undefined && { body }),
});

describe.each(storeFactories(() => redis.url))('approval binding, %s store', (_name, makeStore) => {
  let store: ApprovalStore;
  let harness: ApprovalHarness;
  beforeAll(() => {
    store = makeStore();
    harness = new ApprovalHarness(store);
  });
  afterAll(async () => {
    await store.close();
  });

  it('a DynamoDB DeleteTable approved for us-east-1 is not served when the same bytes are signed for eu-west-1 (region replay)', async () => {
    const id = await harness.approveNew(deleteTable('us-east-1'));
    const replay = await harness.send(deleteTable('eu-west-1'), 50);
    expect(replay).toMatchObject({ go: false, code: 'ApprovalPending' });
    expect(replay.approvalId).not.toBe(id);
    expect(await harness.send(deleteTable('us-east-1'))).toEqual({ go: true, approvalId: id });
  });

  it('a header added after approval (Content-Language, or any the old allow-list forgot) needs a new approval', async () => {
    const put = (extra: Array<[string, string]>) => s3('PUT', '/report.csv', [['Content-Type', 'text/csv'], ...extra], 'a,b\n');
    const id = await harness.approveNew(put([]));
    for (const extra of [[['Content-Language', 'de']], [['X-Forwarded-Host', 'evil.example']], [['x-amz-meta-owner', 'mallory']]] as Array<Array<[string, string]>>) {
      const added = await harness.send(put(extra), 50);
      expect(added, extra[0]?.[0]).toMatchObject({ go: false, code: 'ApprovalPending' });
      expect(added.approvalId).not.toBe(id);
    }
    expect(await harness.send(put([]))).toEqual({ go: true, approvalId: id });
  });

  it('SDK bookkeeping and signing headers change between sends without needing a new approval', async () => {
    const get = (attempt: string) => s3('GET', '/k1', [['amz-sdk-invocation-id', attempt], ['amz-sdk-request', `attempt=${attempt}`], ['X-Amz-Date', `20261204T00000${attempt}Z`], ['Authorization', `sig-${attempt}`], ['User-Agent', `ua/${attempt}`]]);
    const id = await harness.approveNew(get('1'));
    expect(await harness.send(get('2'))).toEqual({ go: true, approvalId: id });
  });

  it('HEAD then GET of the same object is one intent: one approval, one use; ranged GETs of it ride on it too', async () => {
    const id = await harness.approveNew(s3('HEAD', '/data/q1.csv'));
    expect(await harness.send(s3('HEAD', '/data/q1.csv'))).toEqual({ go: true, approvalId: id });
    expect(await harness.send(s3('GET', '/data/q1.csv'))).toEqual({ go: true, approvalId: id });
    expect(await harness.send(s3('GET', '/data/q1.csv', [['Range', 'bytes=0-99']]))).toEqual({ go: true, approvalId: id });
    expect(await harness.send(s3('GET', '/data/q1.csv?partNumber=2'))).toEqual({ go: true, approvalId: id });
    expect((await store.get(id, Date.now()))?.usesLeft).toBe(0);
  });

  it('a read approval never serves another object, another version, or the same object read with another key', async () => {
    const id = await harness.approveNew(s3('GET', '/data/q2.csv'));
    for (const other of [s3('GET', '/data/q3.csv'), s3('GET', '/data/q2.csv?versionId=v1'), s3('GET', '/data/q2.csv', [['x-amz-server-side-encryption-customer-algorithm', 'AES256']])]) {
      const result = await harness.send(other, 50);
      expect(result, other.target).toMatchObject({ go: false, code: 'ApprovalPending' });
      expect(result.approvalId).not.toBe(id);
    }
  });

  it('an approval for one RunInstances never launches two: a change spends a use on every send', async () => {
    const run: RawRequest = {
      service: 'ec2',
      method: 'POST',
      host: 'ec2.us-east-1.amazonaws.com',
      target: '/',
      headers: [['Content-Type', 'application/x-www-form-urlencoded; charset=utf-8']],
      body: 'Action=RunInstances&Version=2016-11-15&ImageId=ami-12345678&MinCount=1&MaxCount=1',
    };
    const id = await harness.approveNew(run);
    expect(await harness.send(run)).toEqual({ go: true, approvalId: id });
    const again = await harness.send(run, 50);
    expect(again).toMatchObject({ go: false, code: 'ApprovalPending' });
    expect(again.approvalId).not.toBe(id);
  });

  it('one agent never rides another agent’s approval of the very same request', async () => {
    const request = s3('GET', '/data/shared.csv');
    const id = await harness.approveNew(request);
    const other = await harness.send({ ...request, agent: 'other-bot' }, 50);
    expect(other).toMatchObject({ go: false, code: 'ApprovalPending' });
    expect(other.approvalId).not.toBe(id);
  });

  it('a policy reload that moves the rule to another role between approval and use is refused (ApprovalMismatch), never served', async () => {
    const request = s3('DELETE', '/old.csv');
    const id = await harness.approveNew(request);
    harness.reload(approvalPolicy(OTHER_ROLE));
    try {
      expect(await harness.send(request)).toMatchObject({ go: false, code: 'ApprovalMismatch', approvalId: id });
    } finally {
      harness.reload(approvalPolicy(ROLE));
    }
    expect((await store.get(id, Date.now()))?.usesLeft).toBe(1); // the refusal used nothing
    expect(await harness.send(request)).toEqual({ go: true, approvalId: id });
  });

  it('a record found under a request’s key but made for other grants (a fingerprint collision) is refused and never used', async () => {
    // Forge the collision: a record stored under the key of the DeleteRole on "harmless", but
    // bound to the grants of DeleteRole on "admin".
    const policy = compilePolicySet(buildPolicySet(approvalPolicy().split(/^---$/m).map((text, i) => ({ path: `p${i}.yaml`, text }))));
    const boundFor = async (role: string) => {
      const body = `Action=DeleteRole&Version=2010-05-08&RoleName=${role}`;
      const classification = classify({ method: 'POST', host: 'iam.amazonaws.com', rawPath: '/', query: parseQuery(''), headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(body), service: 'iam', region: 'us-east-1' });
      const decision = decide(policy, { agent: 'bot', service: 'iam', region: 'us-east-1', needs: classification.needs, parameters: classification.parameters });
      return bind({ agent: 'bot', classification, decision, method: 'POST', host: 'iam.amazonaws.com', rawPath: '/', rawQuery: '', rawHeaders: ['Content-Type', 'application/x-www-form-urlencoded'], bodySha256: sha(body) });
    };
    const harmless = await boundFor('harmless');
    const admin = await boundFor('admin');
    expect(admin.binding.grants.map((g) => g.resource)).toEqual(['arn:aws:iam::123456789012:role/admin']);
    const { record } = await store.findOrCreate(
      {
        fingerprint: harmless.key,
        intent: admin.intent,
        context: { binding: admin.binding, agent: 'bot', owners: ['olga'], service: 'iam', operation: 'DeleteRole', region: 'us-east-1', actions: ['iam:DeleteRole'], resources: ['arn:aws:iam::123456789012:role/admin'], rules: ['iam'], reasons: [], parametersPreview: '{}', method: 'POST', host: 'iam.amazonaws.com', path: '/' },
        requirements: [{ rule: 'iam', quorum: 1, eligible: ['ann', 'bob'] }],
        pendingTimeoutMs: 600_000,
        maxUses: 1,
      },
      Date.now(),
    );
    await store.review(record.id, 'ann', 'approve', '', Date.now());
    const sent = await harness.send({ service: 'iam', method: 'POST', host: 'iam.amazonaws.com', target: '/', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: 'Action=DeleteRole&Version=2010-05-08&RoleName=harmless' });
    expect(sent).toMatchObject({ go: false, code: 'ApprovalMismatch', approvalId: record.id });
    expect((await store.get(record.id, Date.now()))?.status).toBe('approved'); // not consumed
  });
});
