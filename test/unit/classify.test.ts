import { describe, expect, it } from 'vitest';
import { planClassification, type ClassifyInput } from '../../src/aws/classify/index.js';
import { parseQuery } from '../../src/aws/query-string.js';
import { pairs, refusal, run, type Request } from '../support/classify-request.js';

/**
 * The request path's classifier over the route table, one request per protocol and the cases
 * that once had hand-written classifiers (S3, DynamoDB, STS, IAM). The SDK corpus
 * (sdk-corpus.test.ts) checks requests the real SDKs serialise.
 */

const s3 = (method: string, path: string, query = '', headers: ClassifyInput['headers'] = {}, body?: string): Request => ({
  method,
  host: 's3.us-east-1.amazonaws.com',
  rawPath: path,
  query: parseQuery(query),
  headers: body === undefined ? headers : { 'content-length': String(Buffer.byteLength(body)), ...headers },
  ...(body !== undefined && { body: Buffer.from(body) }),
  service: 's3',
});

const dynamodb = (operation: string, body: unknown): Request => ({
  method: 'POST',
  host: 'dynamodb.us-east-1.amazonaws.com',
  rawPath: '/',
  headers: { 'x-amz-target': `DynamoDB_20120810.${operation}`, 'content-type': 'application/x-amz-json-1.0' },
  body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  service: 'dynamodb',
});

const form = (service: string, body: string, query = ''): Request => ({
  method: 'POST',
  host: `${service}.amazonaws.com`,
  rawPath: '/',
  query: parseQuery(query),
  headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
  body: Buffer.from(body),
  service,
});

describe('S3 from the route table', () => {
  it('decodes keys once and reads virtual-hosted buckets from the host', () => {
    expect(pairs(run(s3('GET', '/reports/a%20b+c%3A%C3%A9%3D.csv')))).toEqual(['s3:GetObject arn:aws:s3:::reports/a b+c:é=.csv']);
    expect(pairs(run({ method: 'GET', host: 'bkt.s3.us-east-1.amazonaws.com', rawPath: '/x/y.txt', service: 's3' }))).toEqual(['s3:GetObject arn:aws:s3:::bkt/x/y.txt']);
  });

  it('asks for the version actions when a versionId is given', () => {
    expect(pairs(run(s3('GET', '/r/a.csv', 'versionId=3')))).toEqual(['s3:GetObjectVersion arn:aws:s3:::r/a.csv']);
    expect(pairs(run(s3('DELETE', '/r/a.csv', 'versionId=3')))).toEqual(['s3:DeleteObjectVersion arn:aws:s3:::r/a.csv']);
  });

  it('asks for the ACL and tagging permissions a PutObject also uses', () => {
    const put = run(s3('PUT', '/r/a.csv', '', { 'x-amz-acl': 'public-read', 'x-amz-tagging': 'team=x' }));
    expect(pairs(put)).toEqual(['s3:PutObject arn:aws:s3:::r/a.csv', 's3:PutObjectTagging arn:aws:s3:::r/a.csv', 's3:PutObjectAcl arn:aws:s3:::r/a.csv']);
    expect(put.parameters).toMatchObject({ Bucket: 'r', Key: 'a.csv', ACL: 'public-read' });
  });

  it('checks the copy source of CopyObject and UploadPartCopy', () => {
    expect(pairs(run(s3('PUT', '/dst/k', '', { 'x-amz-copy-source': '/src/some%20key.txt' })))).toEqual([
      's3:GetObject arn:aws:s3:::src/some key.txt',
      's3:PutObject arn:aws:s3:::dst/k',
      's3:GetObjectTagging arn:aws:s3:::src/some key.txt',
      's3:PutObjectTagging arn:aws:s3:::dst/k',
    ]);
    expect(pairs(run(s3('PUT', '/dst/k', 'partNumber=1&uploadId=u', { 'x-amz-copy-source': 'src/a.txt?versionId=4' })))).toEqual([
      's3:GetObjectVersion arn:aws:s3:::src/a.txt',
      's3:PutObject arn:aws:s3:::dst/k',
    ]);
  });

  it('reads the keys of DeleteObjects from its XML body, which it must buffer', () => {
    const request = s3('POST', '/b', 'delete', {}, '<Delete><Object><Key>a</Key></Object><Object><Key>b/c&amp;d</Key></Object></Delete>');
    expect(planClassification({ ...request, query: request.query ?? {}, headers: request.headers ?? {}, region: 'us-east-1' }).buffersBody).toBe(true);
    expect(pairs(run(request))).toEqual(['s3:DeleteObject arn:aws:s3:::b/a', 's3:DeleteObject arn:aws:s3:::b/b/c&d']);
  });

  it('streams object bodies that name nothing the decision needs', () => {
    const head = { method: 'PUT', host: 's3.us-east-1.amazonaws.com', rawPath: '/b/k', query: {}, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '5' }, service: 's3', region: 'us-east-1' };
    expect(planClassification(head)).toMatchObject({ buffersBody: false, protocol: 'rest-xml' });
    for (const [query, op] of [['uploads', 'CreateMultipartUpload'], ['partNumber=1&uploadId=u', 'UploadPart']] as const) {
      expect(run({ ...s3(query === 'uploads' ? 'POST' : 'PUT', '/b/k', query) }).operation).toBe(op);
    }
    expect(run(s3('POST', '/b/k', 'uploadId=u')).operation).toBe('CompleteMultipartUpload');
  });

  it('classifies sub-resources the model knows and refuses parameters it does not', () => {
    expect(pairs(run(s3('GET', '/r/a.csv', 'acl')))).toEqual(['s3:GetObjectAcl arn:aws:s3:::r/a.csv']);
    expect(refusal(s3('GET', '/r/a.csv', 'restore-status'))).toBe('UnclassifiedRequest: Request not classified: query parameter "restore-status" is not defined for s3:GetObject.');
    expect(run(s3('GET', '/r', 'list-type=2&prefix=2026/')).parameters).toEqual({ Bucket: 'r', Prefix: '2026/' });
    expect(pairs(run(s3('GET', '/')))).toEqual(['s3:ListAllMyBuckets *']);
  });
});

describe('S3 access points', () => {
  const host = 'reports-ap-123456789012.s3-accesspoint.eu-west-1.amazonaws.com';
  it('names the access point and its objects, not a bucket', () => {
    const get = run({ method: 'GET', host, rawPath: '/2026/q3.csv', service: 's3', region: 'eu-west-1' });
    expect(pairs(get)).toEqual(['s3:GetObject arn:aws:s3:eu-west-1:123456789012:accesspoint/reports-ap/object/2026/q3.csv']);
    expect(get.parameters).toMatchObject({ Bucket: 'arn:aws:s3:eu-west-1:123456789012:accesspoint/reports-ap', Key: '2026/q3.csv' });
    const list = run({ method: 'GET', host, rawPath: '/', query: parseQuery('list-type=2&prefix=2026/'), service: 's3', region: 'eu-west-1' });
    expect(pairs(list)).toEqual(['s3:ListBucket arn:aws:s3:eu-west-1:123456789012:accesspoint/reports-ap']);
  });

});

describe('JSON protocol', () => {
  it('names tables in the account of the rule role and reads every table a call touches', () => {
    const get = run(dynamodb('GetItem', { TableName: 'orders', Key: { pk: { S: '1' } } }));
    expect(get.needs).toEqual([{ action: 'dynamodb:GetItem', resource: { arn: 'arn:aws:dynamodb:us-east-1::table/orders', needsAccount: true } }]);
    expect(get.parameters).toEqual({ TableName: 'orders', Key: '{"pk":{"S":"1"}}' });
    expect(pairs(run(dynamodb('BatchGetItem', { RequestItems: { a: {}, b: {} } })))).toEqual(['dynamodb:BatchGetItem arn:aws:dynamodb:us-east-1::table/a', 'dynamodb:BatchGetItem arn:aws:dynamodb:us-east-1::table/b']);
    expect(pairs(run(dynamodb('TransactWriteItems', { TransactItems: [{ Put: { TableName: 't1', Item: {} } }, { Delete: { TableName: 't2', Key: {} } }] })))).toEqual([
      'dynamodb:PutItem arn:aws:dynamodb:us-east-1::table/t1',
      'dynamodb:DeleteItem arn:aws:dynamodb:us-east-1::table/t2',
    ]);
    expect(pairs(run(dynamodb('ListTables', {})))).toEqual(['dynamodb:ListTables *']);
  });

  it('marks a resource the request names only partly as a pattern', () => {
    const kms = run({ method: 'POST', host: 'kms.us-east-1.amazonaws.com', rawPath: '/', headers: { 'x-amz-target': 'TrentService.Encrypt' }, body: Buffer.from('{"KeyId":"alias/app","Plaintext":"eA=="}'), service: 'kms' });
    expect(pairs(kms)).toEqual(['kms:Encrypt arn:aws:kms:us-east-1::key/* (pattern)']);
  });

  it('refuses unknown targets, unreadable bodies and unknown services', () => {
    expect(refusal(dynamodb('NoSuch', {}))).toBe('UnclassifiedRequest: Request not classified: dynamodb has no operation "NoSuch".');
    expect(refusal(dynamodb('__proto__', {}))).toContain('UnclassifiedRequest');
    expect(refusal(dynamodb('GetItem', 'not json'))).toContain('TableName is in a part of the request that was not read');
    expect(refusal({ ...dynamodb('GetItem', {}), headers: { 'x-amz-target': 'Other_2012.GetItem' } })).toContain('no dynamodb API answers X-Amz-Target');
    expect(refusal({ ...dynamodb('GetItem', {}), service: 'no-such-service' })).toContain('UnclassifiedRequest');
  });
});

describe('query protocol', () => {
  it('reads Action from the body or the URL and exposes compact JSON documents', () => {
    expect(pairs(run(form('sts', 'Action=GetCallerIdentity&Version=2011-06-15')))).toEqual(['sts:GetCallerIdentity *']);
    expect(pairs(run({ method: 'GET', host: 'sts.amazonaws.com', rawPath: '/', query: parseQuery('Action=GetCallerIdentity&Version=2011-06-15'), service: 'sts' }))).toEqual(['sts:GetCallerIdentity *']);
    expect(pairs(run(form('sts', 'Action=AssumeRole&RoleArn=arn:aws:iam::123456789012:role/x&RoleSessionName=s')))).toEqual(['sts:AssumeRole arn:aws:iam::123456789012:role/x']);
    const put = run(form('iam', `Action=PutRolePolicy&Version=2010-05-08&RoleName=app&PolicyName=p&PolicyDocument=${encodeURIComponent('{ "Version": "2012-10-17" }')}`));
    expect(put.needs).toEqual([{ action: 'iam:PutRolePolicy', resource: { arn: 'arn:aws:iam:::role/app', needsAccount: true } }]);
    expect(put.parameters).toEqual({ RoleName: 'app', PolicyName: 'p', PolicyDocument: '{"Version":"2012-10-17"}' });
  });

  it('speaks both SQS protocols and reads the queue from its URL', () => {
    const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs';
    const viaQuery = run({ ...form('sqs', `Action=SendMessage&QueueUrl=${encodeURIComponent(queueUrl)}&MessageBody=x`), host: 'sqs.us-east-1.amazonaws.com' });
    const viaJson = run({ method: 'POST', host: 'sqs.us-east-1.amazonaws.com', rawPath: '/', headers: { 'x-amz-target': 'AmazonSQS.SendMessage' }, body: Buffer.from(JSON.stringify({ QueueUrl: queueUrl, MessageBody: 'x' })), service: 'sqs' });
    expect(pairs(viaQuery)).toEqual(['sqs:SendMessage arn:aws:sqs:us-east-1:123456789012:jobs']);
    expect(pairs(viaJson)).toEqual(pairs(viaQuery));
    expect([viaQuery.protocol, viaJson.protocol]).toEqual(['query', 'json']);
  });

  it('refuses unknown or prototype actions, actions of another service, and two different Actions', () => {
    expect(refusal(form('iam', 'Action=__proto__&Version=2010-05-08'))).toContain('no iam API has the action "__proto__"');
    expect(refusal(form('iam', 'Action=GetCallerIdentity'))).toContain('no iam API has the action "GetCallerIdentity"');
    expect(refusal(form('iam', 'Action=GetRole&RoleName=a', 'Action=DeleteRole'))).toContain('Action differs between the URL and the body');
    expect(refusal(form('sts', 'Version=2011-06-15'))).toContain('the query request has no Action');
  });
});

describe('REST JSON and EC2', () => {
  it('takes Lambda names from the path and never takes an invocation payload for parameters', () => {
    const invoke = run({ method: 'POST', host: 'lambda.us-east-1.amazonaws.com', rawPath: '/2015-03-31/functions/my-fn/invocations', headers: { 'content-length': '19' }, body: Buffer.from('{"TableName":"x"}  '), service: 'lambda' });
    expect(pairs(invoke)).toEqual(['lambda:InvokeFunction arn:aws:lambda:us-east-1::function:my-fn']);
    expect(invoke.parameters).toEqual({ FunctionName: 'my-fn' });
    expect(invoke.protocol).toBe('json');
  });

  it('reads EC2 lists', () => {
    const terminate = run({ ...form('ec2', 'Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2'), host: 'ec2.us-east-1.amazonaws.com' });
    expect(pairs(terminate)).toEqual(['ec2:TerminateInstances arn:aws:ec2:us-east-1::instance/i-1', 'ec2:TerminateInstances arn:aws:ec2:us-east-1::instance/i-2']);
  });
});

describe('Smithy RPC v2 CBOR', () => {
  // botocore lists smithy-rpc-v2-cbor first for CloudWatch (then json, query); countersign reads
  // JSON and query, not CBOR, and refuses a CBOR request by name.
  const cbor = (service: string, host: string, path: string, headers: ClassifyInput['headers']): Request => ({
    method: 'POST',
    host,
    rawPath: path,
    headers: { 'content-length': '4', ...headers },
    body: Buffer.from([0xa1, 0x61, 0x61, 0x01]),
    service,
  });

  it('refuses a CBOR request, also with an X-Amz-Target or without the smithy-protocol header', () => {
    const path = '/service/GraniteServiceVersion20100801/operation/DeleteAlarms';
    const message = /^UnclassifiedRequest: Request not classified: the request speaks Smithy RPC v2 \(rpc-v2-cbor, a CBOR body\), which countersign does not read/;
    expect(refusal(cbor('monitoring', 'monitoring.us-east-1.amazonaws.com', path, { 'smithy-protocol': 'rpc-v2-cbor', 'content-type': 'application/cbor', accept: 'application/cbor' }))).toMatch(message);
    expect(refusal(cbor('monitoring', 'monitoring.us-east-1.amazonaws.com', path, { 'smithy-protocol': 'rpc-v2-cbor', 'x-amz-target': 'GraniteServiceVersion20100801.DeleteAlarms', 'content-type': 'application/x-amz-json-1.0' }))).toMatch(message);
    expect(refusal(cbor('monitoring', 'monitoring.us-east-1.amazonaws.com', path, { 'content-type': 'application/cbor' }))).toMatch(message);
    expect(refusal(cbor('arc-region-switch', 'arc-region-switch.us-east-1.amazonaws.com', '/service/ArcRegionSwitch/operation/ListPlans', { 'smithy-protocol': 'rpc-v2-cbor', 'content-type': 'application/cbor' }))).toMatch(message);
  });

  it('classifies CloudWatch in JSON and in query', () => {
    const json: Request = {
      method: 'POST',
      host: 'monitoring.us-east-1.amazonaws.com',
      rawPath: '/',
      headers: { 'x-amz-target': 'GraniteServiceVersion20100801.DeleteAlarms', 'content-type': 'application/x-amz-json-1.0' },
      body: Buffer.from(JSON.stringify({ AlarmNames: ['a', 'b'] })),
      service: 'monitoring',
    };
    const alarms = ['cloudwatch:DeleteAlarms arn:aws:cloudwatch:us-east-1::alarm:a', 'cloudwatch:DeleteAlarms arn:aws:cloudwatch:us-east-1::alarm:b'];
    expect(pairs(run(json))).toEqual(alarms);
    expect(pairs(run({ ...form('monitoring', 'Action=DeleteAlarms&Version=2010-08-01&AlarmNames.member.1=a&AlarmNames.member.2=b'), host: 'monitoring.us-east-1.amazonaws.com' }))).toEqual(alarms);
  });
});
