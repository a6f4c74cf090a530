// Requests as the AWS SDK for JavaScript v3 puts them on the wire, serialised and signed but
// never sent: a request handler in place of the HTTP one records the signed HttpRequest and
// fails the call. The wire target is what @smithy/node-http-handler would send: the path as the
// serializer left it (labels already percent-encoded) plus `?` and buildQueryString(query).
// test/support/sdk_corpus.py does the same with boto3; test/unit/sdk-corpus.test.ts holds the
// expected classification of every case by its id.
import { DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { buildQueryString } from '@smithy/core/protocols';
import type { HttpRequest } from '@smithy/types';

/** One request as it would go on the wire; the shape test/support/sdk_corpus.py prints too. */
export interface CapturedRequest {
  readonly sdk: 'boto3' | 'js-v3';
  readonly id: string;
  readonly service: string;
  readonly operation: string;
  readonly method: string;
  readonly host: string;
  /** Still percent-encoded, as on the wire. */
  readonly rawPath: string;
  readonly rawQuery: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly bodyBase64: string;
  /** Not made by a client (boto3 no longer speaks the SQS query protocol). */
  readonly handBuilt?: boolean;
}

export const CORPUS_ACCESS_KEY = 'CSAKCORPUS000000000';
const ACCOUNT = '123456789012';
const BUCKET = 'corpus-bucket';

interface CorpusClientConfig {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; accountId?: string };
  maxAttempts: number;
  forcePathStyle?: boolean;
  requestHandler: { handle(request: HttpRequest): Promise<never> };
}

interface Sender {
  send(command: never): Promise<unknown>;
  destroy(): void;
}

interface JsCase {
  readonly id: string;
  readonly client: new (config: CorpusClientConfig) => Sender;
  readonly command: object;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
  /** Credentials that carry an account id make DynamoDB use its account endpoint. */
  readonly accountId?: string;
}

const CASES: readonly JsCase[] = [
  { id: 's3-get-odd-key', client: S3Client, command: new GetObjectCommand({ Bucket: BUCKET, Key: 'dir/a b+c%d:e=f/é ü.txt' }) },
  { id: 's3-put-tagging-path-style', client: S3Client, region: 'eu-west-1', forcePathStyle: true, command: new PutObjectCommand({ Bucket: 'corpus-eu', Key: 'up/a+b=c.txt', Body: 'hello', Tagging: 'team=data' }) },
  {
    id: 's3-copy-replace-tags',
    client: S3Client,
    // The SDK sends CopySource as given: the caller percent-encodes the key.
    command: new CopyObjectCommand({ Bucket: BUCKET, Key: 'copies/dst.txt', CopySource: 'src-bucket/in/a%20b.txt', TaggingDirective: 'REPLACE', Tagging: 'stage=copied' }),
  },
  {
    id: 's3-delete-objects-version',
    client: S3Client,
    command: new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'old/a.txt' }, { Key: 'old/b.txt', VersionId: 'v1' }] } }),
  },
  { id: 's3-list-objects-v2', client: S3Client, command: new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'dir/', Delimiter: '/' }) },
  { id: 'ddb-put-item', client: DynamoDBClient, command: new PutItemCommand({ TableName: 'orders', Item: { id: { S: '1' } } }) },
  {
    id: 'ddb-query-account-endpoint',
    client: DynamoDBClient,
    accountId: ACCOUNT,
    command: new QueryCommand({ TableName: 'orders', KeyConditionExpression: 'id = :id', ExpressionAttributeValues: { ':id': { S: '1' } } }),
  },
  { id: 'sts-caller-identity', client: STSClient, command: new GetCallerIdentityCommand({}) },
  { id: 'sts-assume-role-path', client: STSClient, command: new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/service/deploy`, RoleSessionName: 'corpus' }) },
  { id: 'sqs-send-fifo', client: SQSClient, command: new SendMessageCommand({ QueueUrl: `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/jobs.fifo`, MessageBody: 'hi', MessageGroupId: 'g' }) },
  { id: 'sqs-receive', client: SQSClient, region: 'eu-west-1', command: new ReceiveMessageCommand({ QueueUrl: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/jobs`, MaxNumberOfMessages: 10 }) },
  { id: 'sns-publish', client: SNSClient, command: new PublishCommand({ TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:alerts`, Message: 'hi' }) },
  { id: 'lambda-invoke-alias-arn', client: LambdaClient, command: new InvokeCommand({ FunctionName: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:my-fn:live`, Payload: new TextEncoder().encode('{}') }) },
  { id: 'lambda-get-function-partial-arn', client: LambdaClient, command: new GetFunctionCommand({ FunctionName: `${ACCOUNT}:function:my-fn` }) },
  { id: 'kms-decrypt-no-key', client: KMSClient, command: new DecryptCommand({ CiphertextBlob: new Uint8Array([1, 2, 3]) }) },
  { id: 'kms-data-key-alias-arn', client: KMSClient, command: new GenerateDataKeyCommand({ KeyId: `arn:aws:kms:us-east-1:${ACCOUNT}:alias/app`, KeySpec: 'AES_256' }) },
];

/** The bytes as sent. JSON bodies are a Uint8Array subclass whose valueOf() (which Buffer.from calls) warns. */
function bodyBytes(body: string | Uint8Array | undefined | null): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** The request target and body exactly as the node HTTP handler would send them. */
function wire(c: JsCase, request: HttpRequest): CapturedRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  const host = request.port === undefined ? request.hostname : `${request.hostname}:${request.port}`;
  headers.host ??= host;
  const body: unknown = request.body;
  if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) throw new Error(`${c.id}: a streamed body is not captured`);
  return {
    sdk: 'js-v3',
    id: c.id,
    service: c.client.name.replace(/Client$/, '').toLowerCase(),
    operation: c.command.constructor.name.replace(/Command$/, ''),
    method: request.method,
    host,
    rawPath: request.path,
    rawQuery: request.query === undefined ? '' : buildQueryString(request.query),
    headers,
    bodyBase64: bodyBytes(body).toString('base64'),
  };
}

async function capture(c: JsCase): Promise<CapturedRequest> {
  let sent: HttpRequest | undefined;
  const client = new c.client({
    region: c.region ?? 'us-east-1',
    credentials: { accessKeyId: CORPUS_ACCESS_KEY, secretAccessKey: 'corpus-secret', ...(c.accountId !== undefined && { accountId: c.accountId }) },
    maxAttempts: 1,
    ...(c.forcePathStyle !== undefined && { forcePathStyle: c.forcePathStyle }),
    requestHandler: {
      handle(request) {
        sent = request;
        return Promise.reject(new Error('captured, not sent'));
      },
    },
  });
  try {
    await client.send(c.command as never);
  } catch (error) {
    if (sent === undefined) throw error;
  } finally {
    client.destroy();
  }
  if (sent === undefined) throw new Error(`${c.id}: no request was sent`);
  return wire(c, sent);
}

/** Every JS case, captured one after the other (each takes a few milliseconds). */
export async function captureJsCorpus(): Promise<CapturedRequest[]> {
  const captured: CapturedRequest[] = [];
  for (const c of CASES) captured.push(await capture(c));
  return captured;
}
