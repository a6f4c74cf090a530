// Requests serialised and signed by the real SDKs (boto3 via test/support/sdk_corpus.py, the JS SDK v3
// via test/support/sdk-corpus-js.ts), classified as countersign would see them on the wire. The
// expectations are what IAM authorises for each call (the Service Authorization Reference and the
// services' permission docs), written out per case, not read back from the classifier.
//
// Notation: "action arn", then " !" when the ARN's account is left empty for the proxy to fill
// (needsAccount), " ~" when the ARN is a pattern covering more than the request names (wildcard).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { classify, type Classification, type ClassifyInput } from '../../src/aws/classify/index.js';
import { parseQuery } from '../../src/aws/query-string.js';
import { captureJsCorpus, CORPUS_ACCESS_KEY, type CapturedRequest } from '../support/sdk-corpus-js.js';
import { repoRoot, venvBinDir } from '../support/python.js';

const ACCOUNT = '123456789012';
const ODD_KEY = 'dir/a b+c%d:e=f/é ü.txt';
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const LOAD_BALANCER = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:loadbalancer/app/web/50dc6c495c0c9188`;

interface Expected {
  readonly operation: string;
  readonly needs: readonly string[];
}

function op(operation: string, ...needs: string[]): Expected {
  return { operation, needs };
}

/** boto3 cases, by the ids of test/support/sdk_corpus.py. */
const BOTO3: Readonly<Record<string, Expected>> = {
  // S3 names objects without an account; the key is the decoded one, whatever the SDK escaped.
  's3-get-odd-key': op('GetObject', `s3:GetObject arn:aws:s3:::corpus-bucket/${ODD_KEY}`),
  's3-get-odd-key-path-style': op('GetObject', `s3:GetObject arn:aws:s3:::corpus-bucket/${ODD_KEY}`),
  // A versionId reads a specific version: s3:GetObjectVersion, not s3:GetObject.
  's3-get-version': op('GetObject', 's3:GetObjectVersion arn:aws:s3:::corpus-bucket/report.csv'),
  // HeadObject is authorised as s3:GetObject.
  's3-head-eu': op('HeadObject', 's3:GetObject arn:aws:s3:::corpus-eu/a=b/c.txt'),
  // x-amz-tagging needs s3:PutObjectTagging, an ACL header s3:PutObjectAcl.
  's3-put-tagging-acl': op(
    'PutObject',
    's3:PutObject arn:aws:s3:::corpus-bucket/up/new file.txt',
    's3:PutObjectTagging arn:aws:s3:::corpus-bucket/up/new file.txt',
    's3:PutObjectAcl arn:aws:s3:::corpus-bucket/up/new file.txt',
  ),
  // Read the source, write the target; the default tagging directive (COPY) copies the source's tags,
  // which needs s3:GetObjectTagging on the source and s3:PutObjectTagging on the target.
  's3-copy': op(
    'CopyObject',
    's3:GetObject arn:aws:s3:::src-bucket/in/a b+c.txt',
    's3:GetObjectTagging arn:aws:s3:::src-bucket/in/a b+c.txt',
    's3:PutObject arn:aws:s3:::corpus-bucket/copies/dst.txt',
    's3:PutObjectTagging arn:aws:s3:::corpus-bucket/copies/dst.txt',
  ),
  's3-upload-part-copy': op('UploadPartCopy', 's3:GetObject arn:aws:s3:::src-bucket/in/part.bin', 's3:PutObject arn:aws:s3:::corpus-bucket/big/object.bin'),
  // DeleteObjects is authorised per key named in the XML body.
  's3-delete-objects': op('DeleteObjects', 's3:DeleteObject arn:aws:s3:::corpus-bucket/old/a b.txt', 's3:DeleteObject arn:aws:s3:::corpus-bucket/old/x&y<z>.txt'),
  // Every step of a multipart upload is s3:PutObject.
  's3-create-multipart': op('CreateMultipartUpload', 's3:PutObject arn:aws:s3:::corpus-bucket/big/object.bin'),
  's3-upload-part': op('UploadPart', 's3:PutObject arn:aws:s3:::corpus-bucket/big/object.bin'),
  's3-complete-multipart': op('CompleteMultipartUpload', 's3:PutObject arn:aws:s3:::corpus-bucket/big/object.bin'),
  's3-list-objects-v2': op('ListObjectsV2', 's3:ListBucket arn:aws:s3:::corpus-bucket'),
  's3-list-buckets': op('ListBuckets', 's3:ListAllMyBuckets *'),
  'ddb-get-item': op('GetItem', 'dynamodb:GetItem arn:aws:dynamodb:us-east-1::table/orders !'),
  // A query on an index is authorised on the index's ARN.
  'ddb-query-index': op('Query', 'dynamodb:Query arn:aws:dynamodb:us-east-1::table/orders/index/by-customer !'),
  'ddb-batch-write': op('BatchWriteItem', 'dynamodb:BatchWriteItem arn:aws:dynamodb:us-east-1::table/audit !', 'dynamodb:BatchWriteItem arn:aws:dynamodb:us-east-1::table/orders !'),
  // The queue URL names the account.
  'sqs-send': op('SendMessage', `sqs:SendMessage arn:aws:sqs:us-east-1:${ACCOUNT}:jobs`),
  'sqs-query-send': op('SendMessage', `sqs:SendMessage arn:aws:sqs:us-east-1:${ACCOUNT}:jobs`),
  // Batch calls are authorised as their single-message action.
  'sqs-delete-batch': op('DeleteMessageBatch', `sqs:DeleteMessage arn:aws:sqs:us-east-1:${ACCOUNT}:jobs`),
  'sqs-create-queue': op('CreateQueue', 'sqs:CreateQueue arn:aws:sqs:us-east-1::jobs-dlq !'),
  'sns-publish': op('Publish', `sns:Publish arn:aws:sns:us-east-1:${ACCOUNT}:alerts`),
  'sns-create-topic': op('CreateTopic', 'sns:CreateTopic arn:aws:sns:us-east-1::alerts !'),
  // KMS authorises on the key an alias points to: any key, as far as the request says.
  'kms-encrypt-alias': op('Encrypt', 'kms:Encrypt arn:aws:kms:us-east-1::key/* ! ~'),
  'kms-decrypt-arn': op('Decrypt', `kms:Decrypt arn:aws:kms:us-east-1:${ACCOUNT}:key/${KEY_ID}`),
  'kms-describe-key-id': op('DescribeKey', `kms:DescribeKey arn:aws:kms:us-east-1::key/${KEY_ID} !`),
  // A secret's ARN ends in a random six-character suffix the name does not carry.
  'sm-get-by-name': op('GetSecretValue', 'secretsmanager:GetSecretValue arn:aws:secretsmanager:us-east-1::secret:prod/db-?????? ! ~'),
  'sm-get-by-arn': op('GetSecretValue', `secretsmanager:GetSecretValue arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:prod/db-AbCdEf`),
  // Parameter ARNs drop the name's leading slash.
  'ssm-get-parameter': op('GetParameter', 'ssm:GetParameter arn:aws:ssm:us-east-1::parameter/app/db/url !'),
  'ssm-get-by-path': op('GetParametersByPath', 'ssm:GetParametersByPath arn:aws:ssm:us-east-1::parameter/app !'),
  // A qualified invocation is authorised on the qualified ARN.
  'lambda-invoke-qualified': op('Invoke', 'lambda:InvokeFunction arn:aws:lambda:us-east-1::function:my-fn:prod !'),
  'lambda-get-function-name': op('GetFunction', 'lambda:GetFunction arn:aws:lambda:us-east-1::function:my-fn !'),
  'lambda-get-function-arn': op('GetFunction', `lambda:GetFunction arn:aws:lambda:eu-west-1:${ACCOUNT}:function:other-fn`),
  'iam-get-role': op('GetRole', 'iam:GetRole arn:aws:iam:::role/deploy !'),
  // A user's ARN includes its path.
  'iam-create-user-path': op('CreateUser', 'iam:CreateUser arn:aws:iam:::user/bots/ci-bot !'),
  'sts-caller-identity': op('GetCallerIdentity', 'sts:GetCallerIdentity *'),
  'sts-assume-role': op('AssumeRole', `sts:AssumeRole arn:aws:iam::${ACCOUNT}:role/deploy`),
  'ec2-describe-instances': op('DescribeInstances', 'ec2:DescribeInstances *'),
  'ec2-terminate': op('TerminateInstances', 'ec2:TerminateInstances arn:aws:ec2:us-east-1::instance/i-0abc !', 'ec2:TerminateInstances arn:aws:ec2:us-east-1::instance/i-0def !'),
  // RunInstances is authorised on everything it uses and creates (image ARNs have no account).
  'ec2-run-instances': op(
    'RunInstances',
    'ec2:RunInstances arn:aws:ec2:us-east-1::image/ami-0abc',
    'ec2:RunInstances arn:aws:ec2:us-east-1::instance/* ! ~',
    'ec2:RunInstances arn:aws:ec2:us-east-1::network-interface/* ! ~',
    'ec2:RunInstances arn:aws:ec2:us-east-1::security-group/sg-0abc !',
    'ec2:RunInstances arn:aws:ec2:us-east-1::subnet/subnet-0abc !',
    'ec2:RunInstances arn:aws:ec2:us-east-1::volume/* ! ~',
  ),
  // Tags given at launch: ec2:CreateTags on each type tagged, as new resources.
  'ec2-run-instances-tagged': op(
    'RunInstances',
    'ec2:RunInstances arn:aws:ec2:us-east-1::image/ami-0abc',
    'ec2:RunInstances arn:aws:ec2:us-east-1::instance/* ! ~',
    'ec2:RunInstances arn:aws:ec2:us-east-1::network-interface/* ! ~',
    'ec2:RunInstances arn:aws:ec2:us-east-1::security-group/* ! ~',
    'ec2:RunInstances arn:aws:ec2:us-east-1::subnet/* ! ~',
    'ec2:RunInstances arn:aws:ec2:us-east-1::volume/* ! ~',
    'ec2:CreateTags arn:aws:ec2:us-east-1::instance/* ! ~',
    'ec2:CreateTags arn:aws:ec2:us-east-1::volume/* ! ~',
  ),
  'logs-put-events': op('PutLogEvents', 'logs:PutLogEvents arn:aws:logs:us-east-1::log-group:/app/web:log-stream:i-0abc/stdout !'),
  'cw-put-metric-data': op('PutMetricData', 'cloudwatch:PutMetricData *'),
  'cw-delete-alarms': op('DeleteAlarms', 'cloudwatch:DeleteAlarms arn:aws:cloudwatch:us-east-1::alarm:high-cpu !', 'cloudwatch:DeleteAlarms arn:aws:cloudwatch:us-east-1::alarm:low-disk !'),
  // ECS passes the task definition's task and execution roles: iam:PassRole on roles the request does not name.
  'ecs-run-task': op('RunTask', 'ecs:RunTask arn:aws:ecs:us-east-1::task-definition/web:3 !', 'iam:PassRole arn:aws:iam:::role/* ! ~'),
  'ecs-describe-services': op('DescribeServices', 'ecs:DescribeServices arn:aws:ecs:us-east-1::service/prod/web !'),
  'ecr-auth-token': op('GetAuthorizationToken', 'ecr:GetAuthorizationToken *'),
  // registryId is the repository's account.
  'ecr-batch-get-image': op('BatchGetImage', `ecr:BatchGetImage arn:aws:ecr:us-east-1:${ACCOUNT}:repository/app/web`),
  'kinesis-put-record': op('PutRecord', 'kinesis:PutRecord arn:aws:kinesis:us-east-1::stream/clicks !'),
  'sfn-start': op('StartExecution', `states:StartExecution arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:orders`),
  'sfn-describe-execution': op('DescribeExecution', `states:DescribeExecution arn:aws:states:us-east-1:${ACCOUNT}:execution:orders:run-1`),
  'events-put-events': op('PutEvents', 'events:PutEvents arn:aws:events:us-east-1::event-bus/orders !'),
  // A rule on the default bus: rule/<name>.
  'events-put-rule': op('PutRule', 'events:PutRule arn:aws:events:us-east-1::rule/nightly !'),
  'athena-start-query': op('StartQueryExecution', 'athena:StartQueryExecution arn:aws:athena:us-east-1::workgroup/analytics !'),
  // Glue authorises a table read on the catalog, the database and the table.
  'glue-get-table': op(
    'GetTable',
    'glue:GetTable arn:aws:glue:us-east-1::catalog !',
    'glue:GetTable arn:aws:glue:us-east-1::database/sales !',
    'glue:GetTable arn:aws:glue:us-east-1::table/sales/orders !',
  ),
  // Foundation-model ARNs have no account; Converse is authorised as bedrock:InvokeModel.
  'bedrock-invoke-model': op('InvokeModel', `bedrock:InvokeModel arn:aws:bedrock:us-east-1::foundation-model/${MODEL}`),
  'bedrock-converse': op('Converse', `bedrock:InvokeModel arn:aws:bedrock:us-east-1::foundation-model/${MODEL}`),
  // API Gateway management is authorised by HTTP verb on the resource path; its ARNs have no account.
  'apigw-get-rest-apis': op('GetRestApis', 'apigateway:GET arn:aws:apigateway:us-east-1::/restapis'),
  'apigw-get-rest-api': op('GetRestApi', 'apigateway:GET arn:aws:apigateway:us-east-1::/restapis/a1b2c3'),
  'r53-change-rrsets': op('ChangeResourceRecordSets', 'route53:ChangeResourceRecordSets arn:aws:route53:::hostedzone/Z0123456789ABC'),
  'r53-list-zones': op('ListHostedZones', 'route53:ListHostedZones *'),
  'elbv2-describe': op('DescribeLoadBalancers', 'elasticloadbalancing:DescribeLoadBalancers *'),
  'elbv2-delete': op('DeleteLoadBalancer', `elasticloadbalancing:DeleteLoadBalancer ${LOAD_BALANCER}`),
  // A stack's ARN ends in an id the name does not carry.
  'cfn-describe-stacks': op('DescribeStacks', 'cloudformation:DescribeStacks arn:aws:cloudformation:us-east-1::stack/web/* ! ~'),
  'cfn-create-stack': op('CreateStack', 'cloudformation:CreateStack arn:aws:cloudformation:us-east-1::stack/web/* ! ~'),
};

/** JS SDK v3 cases, by the ids of test/support/sdk-corpus-js.ts. */
const JS_V3: Readonly<Record<string, Expected>> = {
  's3-get-odd-key': op('GetObject', `s3:GetObject arn:aws:s3:::corpus-bucket/${ODD_KEY}`),
  's3-put-tagging-path-style': op('PutObject', 's3:PutObject arn:aws:s3:::corpus-eu/up/a+b=c.txt', 's3:PutObjectTagging arn:aws:s3:::corpus-eu/up/a+b=c.txt'),
  // REPLACE writes the request's tags: no source tags are read.
  's3-copy-replace-tags': op(
    'CopyObject',
    's3:GetObject arn:aws:s3:::src-bucket/in/a b.txt',
    's3:PutObject arn:aws:s3:::corpus-bucket/copies/dst.txt',
    's3:PutObjectTagging arn:aws:s3:::corpus-bucket/copies/dst.txt',
  ),
  // s3:DeleteObject for every key, s3:DeleteObjectVersion for the key deleted by version.
  's3-delete-objects-version': op(
    'DeleteObjects',
    's3:DeleteObject arn:aws:s3:::corpus-bucket/old/a.txt',
    's3:DeleteObject arn:aws:s3:::corpus-bucket/old/b.txt',
    's3:DeleteObjectVersion arn:aws:s3:::corpus-bucket/old/b.txt',
  ),
  's3-list-objects-v2': op('ListObjectsV2', 's3:ListBucket arn:aws:s3:::corpus-bucket'),
  'ddb-put-item': op('PutItem', 'dynamodb:PutItem arn:aws:dynamodb:us-east-1::table/orders !'),
  // Sent to <account>.ddb.us-east-1.amazonaws.com; the body still names the table alone.
  'ddb-query-account-endpoint': op('Query', 'dynamodb:Query arn:aws:dynamodb:us-east-1::table/orders !'),
  'sts-caller-identity': op('GetCallerIdentity', 'sts:GetCallerIdentity *'),
  'sts-assume-role-path': op('AssumeRole', `sts:AssumeRole arn:aws:iam::${ACCOUNT}:role/service/deploy`),
  'sqs-send-fifo': op('SendMessage', `sqs:SendMessage arn:aws:sqs:us-east-1:${ACCOUNT}:jobs.fifo`),
  'sqs-receive': op('ReceiveMessage', `sqs:ReceiveMessage arn:aws:sqs:eu-west-1:${ACCOUNT}:jobs`),
  'sns-publish': op('Publish', `sns:Publish arn:aws:sns:us-east-1:${ACCOUNT}:alerts`),
  'lambda-invoke-alias-arn': op('Invoke', `lambda:InvokeFunction arn:aws:lambda:us-east-1:${ACCOUNT}:function:my-fn:live`),
  // Lambda accepts a partial ARN (account:function:name); it names the account.
  'lambda-get-function-partial-arn': op('GetFunction', `lambda:GetFunction arn:aws:lambda:us-east-1:${ACCOUNT}:function:my-fn`),
  // Decrypt without a KeyId uses the key recorded in the ciphertext.
  'kms-decrypt-no-key': op('Decrypt', 'kms:Decrypt arn:aws:kms:us-east-1::key/* ! ~'),
  'kms-data-key-alias-arn': op('GenerateDataKey', `kms:GenerateDataKey arn:aws:kms:us-east-1:${ACCOUNT}:key/* ~`),
};

/** What countersign hands the classifier: service and region from the signature's credential scope. */
function classifyInput(request: CapturedRequest): ClassifyInput {
  const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(request.headers.authorization ?? '');
  if (scope === null) throw new Error(`${request.id}: no SigV4 credential scope`);
  expect(scope[1]).toBe(CORPUS_ACCESS_KEY);
  return {
    method: request.method,
    host: request.host,
    rawPath: request.rawPath,
    query: parseQuery(request.rawQuery),
    headers: request.headers,
    body: request.bodyBase64 === '' ? undefined : Buffer.from(request.bodyBase64, 'base64'),
    service: scope[3] ?? '',
    region: scope[2] ?? '',
  };
}

function summary(c: Classification): Expected {
  const needs = c.needs.map((n) => `${n.action} ${n.resource.arn}${n.resource.needsAccount ? ' !' : ''}${n.wildcard === true ? ' ~' : ''}`);
  return { operation: c.operation, needs: needs.sort() };
}

const execFileAsync = promisify(execFile);
const python = path.join(venvBinDir, 'python');
const haveVenv = existsSync(python);

async function captureBoto3Corpus(): Promise<CapturedRequest[]> {
  const { stdout } = await execFileAsync(python, [path.join(repoRoot, 'test/support/sdk_corpus.py')], { timeout: 60_000, maxBuffer: 16 << 20, env: { PATH: process.env.PATH ?? '' } });
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as CapturedRequest);
}

function corpusTests(sdk: CapturedRequest['sdk'], expectations: Readonly<Record<string, Expected>>, captureAll: () => Promise<CapturedRequest[]>): void {
  const captured = new Map<string, CapturedRequest>();
  beforeAll(async () => {
    for (const request of await captureAll()) captured.set(request.id, request);
  });

  it('captures every case, signed, for a real AWS host', () => {
    expect([...captured.keys()].sort()).toEqual(Object.keys(expectations).sort());
    for (const request of captured.values()) {
      expect(request.sdk).toBe(sdk);
      expect(request.host).toMatch(/\.amazonaws\.com$/);
    }
  });

  it.each(Object.entries(expectations))('%s', (id, expected) => {
    const request = captured.get(id);
    if (request === undefined) throw new Error(`${id} was not captured`);
    expect(summary(classify(classifyInput(request)))).toEqual({ operation: expected.operation, needs: [...expected.needs].sort() });
  });
}

describe('SDK corpus: AWS SDK for JavaScript v3', () => {
  corpusTests('js-v3', JS_V3, captureJsCorpus);
});

describe.skipIf(!haveVenv)(`SDK corpus: boto3${haveVenv ? '' : ` (skipped: no ${python}; bash .ci/run creates the venv)`}`, () => {
  corpusTests('boto3', BOTO3, captureBoto3Corpus);
});
