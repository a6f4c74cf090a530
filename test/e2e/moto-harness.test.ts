// Smoke test of the moto harness (test/support/moto.ts): moto runs with
// request authentication ON, the bootstrap identities work, seeding works.
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { seedDynamoTable, seedS3, startMoto, type MotoServer } from '../support/moto.js';

const REGION = 'us-east-1';
const BUCKET = 'harness-bucket';
const KEY = 'greeting.txt';
const BODY = 'hello from moto';

describe('moto harness', { timeout: 60_000 }, () => {
  let moto: MotoServer | undefined;

  const server = (): MotoServer => {
    if (!moto) throw new Error('moto not started');
    return moto;
  };
  const s3 = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): S3Client =>
    new S3Client({ region: REGION, endpoint: server().endpoint, forcePathStyle: true, credentials, maxAttempts: 1 });

  beforeAll(async () => {
    moto = await startMoto();
    await seedS3(moto, BUCKET, { [KEY]: BODY });
  }, 60_000);

  afterAll(async () => {
    await moto?.stop();
  }, 30_000);

  test('bootstrap identities', () => {
    const m = server();
    expect(m.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(m.accountId).toBe('123456789012');
    expect(m.roleArn).toBe('arn:aws:iam::123456789012:role/countersign-target');
    expect(m.admin.accessKeyId).toMatch(/^AKIA/);
  });

  test('unsigned S3 GET is refused', async () => {
    const res = await fetch(`${server().endpoint}/${BUCKET}/${KEY}`);
    await res.arrayBuffer();
    expect(res.status).toBe(403);
  });

  test('auth is ON: a request signed with a bogus secret is rejected, the admin key is accepted', async () => {
    // Note: moto refuses unsigned GETs of private objects (403) even with auth
    // OFF, so the unsigned check alone proves nothing. With auth OFF moto would
    // serve this bogus-secret request; with auth ON it must fail the signature.
    const { accessKeyId } = server().admin;
    const bogus = s3({ accessKeyId, secretAccessKey: 'not-the-real-secret-key-0000000000000000' });
    await expect(bogus.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    });

    const unknown = s3({ accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'whatever' });
    await expect(unknown.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }))).rejects.toMatchObject({
      name: 'InvalidAccessKeyId',
    });

    const admin = s3(server().admin);
    const out = await admin.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }));
    expect(await out.Body?.transformToString()).toBe(BODY);
  });

  test('admin user can AssumeRole into the target role and use it', async () => {
    const sts = new STSClient({ region: REGION, endpoint: server().endpoint, credentials: server().admin, maxAttempts: 1 });
    const { Credentials: c } = await sts.send(
      new AssumeRoleCommand({ RoleArn: server().roleArn, RoleSessionName: 'harness-smoke' }),
    );
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw new Error('AssumeRole returned no credentials');
    const asRole = s3({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken });
    const out = await asRole.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }));
    expect(await out.Body?.transformToString()).toBe(BODY);
  });

  test('seedDynamoTable creates the table with item k1', async () => {
    await seedDynamoTable(server(), 'harness-table');
    const ddb = new DynamoDBClient({ region: REGION, endpoint: server().endpoint, credentials: server().admin, maxAttempts: 1 });
    const out = await ddb.send(new GetItemCommand({ TableName: 'harness-table', Key: { pk: { S: 'k1' } } }));
    expect(out.Item).toEqual({ pk: { S: 'k1' }, v: { S: 'hello' } });
  });
});
