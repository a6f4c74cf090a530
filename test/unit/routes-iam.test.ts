import { describe, expect, it } from 'vitest';
import { parseQuery, type QueryParams } from '../../src/aws/query-string.js';
import { iamNeeds, parseXml, readsBody, requestMembers, type IamResult, type RequestParts } from '../../src/aws/routes/iam-actions.js';
import { getService, matchQueryOperation, matchRestOperation, matchTargetOperation, type RouteOperation, type RouteService } from '../../src/aws/routes/table.js';

const ACCOUNT = '123456789012';

function service(id: string): RouteService {
  const s = getService(id);
  if (s === undefined) throw new Error(`no service ${id}`);
  return s;
}

/** Needs as "action resource" strings ("!" marks needsAccount, "~" a wildcard), or the refusal. */
function summary(result: IamResult): string[] | string {
  if (!result.ok) return `refused: ${result.reason}`;
  return result.needs.map((n) => `${n.action} ${n.resource.arn}${n.resource.needsAccount ? ' !' : ''}${n.wildcard ? ' ~' : ''}`);
}

interface Req {
  readonly method?: string;
  readonly target?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly host?: string;
  readonly region?: string;
  readonly account?: string;
}

function restNeeds(id: string, req: Req): IamResult {
  const [path = '/', rawQuery = ''] = (req.target ?? '/').split('?');
  const query: QueryParams = parseQuery(rawQuery);
  const s = service(id);
  const match = matchRestOperation(s, req.method ?? 'GET', path, query, req.headers ?? {}, req.host === undefined ? {} : { host: req.host });
  if (match === undefined) throw new Error('no route');
  const parts: RequestParts = { labels: match.labels, query, headers: req.headers ?? {}, body: req.body === undefined ? undefined : Buffer.from(req.body), protocol: s.protocol };
  return iamNeeds(s, match.operation, requestMembers(match.operation, parts), { region: req.region ?? 'us-east-1', ...(req.account === undefined ? {} : { account: req.account }) });
}

function jsonNeeds(id: string, target: string, body: unknown, region = 'us-east-1'): IamResult {
  const s = service(id);
  const op = matchTargetOperation(s, target);
  if (op === undefined) throw new Error(`no operation for ${target}`);
  return evaluate(s, op, { query: {}, headers: {}, body: Buffer.from(JSON.stringify(body)), protocol: 'json' }, region);
}

function queryNeeds(id: string, form: Record<string, string>, extra: Partial<RequestParts> = {}): IamResult {
  const s = service(id);
  const op = matchQueryOperation(s, form.Action ?? '', form.Version);
  if (op === undefined) throw new Error(`no operation ${form.Action}`);
  const protocol = s.protocols.includes('ec2') ? 'ec2' : 'query';
  return evaluate(s, op, { query: {}, headers: {}, body: Buffer.from(new URLSearchParams(form).toString()), protocol, ...extra });
}

function evaluate(s: RouteService, op: RouteOperation, parts: RequestParts, region = 'us-east-1'): IamResult {
  return iamNeeds(s, op, requestMembers(op, parts), { region });
}

describe('iamNeeds: S3', () => {
  it('GetObject on a virtual-hosted bucket, GetObjectVersion with versionId', () => {
    expect(summary(restNeeds('s3', { target: '/dir/a%20b.txt', host: 'my-bucket.s3.us-east-1.amazonaws.com' }))).toEqual(['s3:GetObject arn:aws:s3:::my-bucket/dir/a b.txt']);
    expect(summary(restNeeds('s3', { target: '/b/k?versionId=v1' }))).toEqual(['s3:GetObjectVersion arn:aws:s3:::b/k']);
    expect(summary(restNeeds('s3', { target: '/b/k', region: 'cn-north-1' }))).toEqual(['s3:GetObject arn:aws-cn:s3:::b/k']);
  });

  it('CopyObject reads the copy source (the part iam-dataset leaves out)', () => {
    const result = restNeeds('s3', { method: 'PUT', target: '/dest/new.txt', headers: { 'x-amz-copy-source': '/src-bucket/dir/old%20name.txt?versionId=v9' } });
    // The default tagging directive (COPY) copies the source's tags: read there, written here.
    expect(summary(result)).toEqual([
      's3:GetObjectVersion arn:aws:s3:::src-bucket/dir/old name.txt',
      's3:PutObject arn:aws:s3:::dest/new.txt',
      's3:GetObjectTagging arn:aws:s3:::src-bucket/dir/old name.txt',
      's3:PutObjectTagging arn:aws:s3:::dest/new.txt',
    ]);
    const replaced = restNeeds('s3', { method: 'PUT', target: '/dest/new.txt', headers: { 'x-amz-copy-source': 'src/k', 'x-amz-tagging-directive': 'REPLACE', 'x-amz-tagging': 'a=b', 'x-amz-acl': 'private' } });
    expect(summary(replaced)).toEqual(['s3:GetObject arn:aws:s3:::src/k', 's3:PutObject arn:aws:s3:::dest/new.txt', 's3:PutObjectTagging arn:aws:s3:::dest/new.txt', 's3:PutObjectAcl arn:aws:s3:::dest/new.txt']);
  });

  it('UploadPartCopy needs the source object too', () => {
    const result = restNeeds('s3', { method: 'PUT', target: '/dest/big?partNumber=2&uploadId=u', headers: { 'x-amz-copy-source': '/src/part' } });
    expect(summary(result)).toEqual(['s3:GetObject arn:aws:s3:::src/part', 's3:PutObject arn:aws:s3:::dest/big']);
  });

  it('PutObject with an ACL and tags needs their permissions', () => {
    const result = restNeeds('s3', { method: 'PUT', target: '/b/k', headers: { 'x-amz-acl': 'public-read', 'x-amz-tagging': 'a=b' } });
    expect(summary(result)).toEqual(['s3:PutObject arn:aws:s3:::b/k', 's3:PutObjectTagging arn:aws:s3:::b/k', 's3:PutObjectAcl arn:aws:s3:::b/k']);
  });

  it('DeleteObjects reads the keys from the XML body (versions per key), and refuses an unread body', () => {
    const body = '<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a &amp; b.txt</Key></Object><Object><Key>c.txt</Key><VersionId>v1</VersionId></Object><Quiet>true</Quiet></Delete>';
    expect(summary(restNeeds('s3', { method: 'POST', target: '/b?delete', body }))).toEqual([
      's3:DeleteObject arn:aws:s3:::b/a & b.txt',
      's3:DeleteObject arn:aws:s3:::b/c.txt',
      's3:DeleteObjectVersion arn:aws:s3:::b/c.txt',
    ]);
    // An empty VersionId counts as one: the selection never leaves out a key that may be versioned.
    const empty = '<Delete><Object><Key>k</Key><VersionId></VersionId></Object></Delete>';
    expect(summary(restNeeds('s3', { method: 'POST', target: '/b?delete', body: empty }))).toEqual(['s3:DeleteObject arn:aws:s3:::b/k', 's3:DeleteObjectVersion arn:aws:s3:::b/k']);
    expect(summary(restNeeds('s3', { method: 'POST', target: '/b?delete' }))).toMatch(/^refused: s3:DeleteObject: .*not read/);
    expect(parseXml('<!DOCTYPE x [<!ENTITY e "x">]><Delete/>')).toBeUndefined();
  });

  it('ListBuckets takes "*"', () => {
    expect(summary(restNeeds('s3', { target: '/' }))).toEqual(['s3:ListAllMyBuckets *']);
  });
});

describe('iamNeeds: JSON services', () => {
  it('DynamoDB: the table, in the account of the role that will run the call', () => {
    expect(summary(jsonNeeds('dynamodb', 'DynamoDB_20120810.GetItem', { TableName: 'Orders', Key: {} }))).toEqual(['dynamodb:GetItem arn:aws:dynamodb:us-east-1::table/Orders !']);
    expect(summary(jsonNeeds('dynamodb', 'DynamoDB_20120810.BatchGetItem', { RequestItems: { A: {}, B: {} } }))).toEqual([
      'dynamodb:BatchGetItem arn:aws:dynamodb:us-east-1::table/A !',
      'dynamodb:BatchGetItem arn:aws:dynamodb:us-east-1::table/B !',
    ]);
    expect(summary(jsonNeeds('dynamodb', 'DynamoDB_20120810.GetItem', { Key: {} }))).toMatch(/^refused/);
  });

  it('DynamoDB PartiQL: the verb as a keyword and the one table named, not a decoy in a string', () => {
    expect(summary(jsonNeeds('dynamodb', 'DynamoDB_20120810.ExecuteStatement', { Statement: 'select *\nfrom "Music" where a = 1' }))).toEqual(['dynamodb:PartiQLSelect arn:aws:dynamodb:us-east-1::table/Music !']);
    expect(summary(jsonNeeds('dynamodb', 'DynamoDB_20120810.ExecuteStatement', { Statement: `SELECT * FROM "Secret" WHERE a = 'x FROM Public'` }))).toEqual(['dynamodb:PartiQLSelect arn:aws:dynamodb:us-east-1::table/Secret !']);
    expect(summary(jsonNeeds('dynamodb', 'DynamoDB_20120810.ExecuteStatement', { Statement: 'UPDATE "A" SET x = 1 WHERE k IN (SELECT k FROM "B")' }))).toMatch(/^refused/);
  });

  it('KMS: key IDs and ARNs name the key; an alias or no KeyId is any key (a wildcard)', () => {
    const keyId = '1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(summary(jsonNeeds('kms', 'TrentService.Encrypt', { KeyId: keyId, Plaintext: 'eA==' }))).toEqual([`kms:Encrypt arn:aws:kms:us-east-1::key/${keyId} !`]);
    expect(summary(jsonNeeds('kms', 'TrentService.Encrypt', { KeyId: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${keyId}` }))).toEqual([`kms:Encrypt arn:aws:kms:eu-west-1:${ACCOUNT}:key/${keyId}`]);
    expect(summary(jsonNeeds('kms', 'TrentService.Encrypt', { KeyId: 'alias/app' }))).toEqual(['kms:Encrypt arn:aws:kms:us-east-1::key/* ! ~']);
    expect(summary(jsonNeeds('kms', 'TrentService.Decrypt', { CiphertextBlob: 'AQID' }))).toEqual(['kms:Decrypt arn:aws:kms:us-east-1::key/* ! ~']);
  });

  it('SQS (JSON): the queue ARN, account included, from QueueUrl', () => {
    expect(summary(jsonNeeds('sqs', 'AmazonSQS.SendMessage', { QueueUrl: `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/jobs.fifo`, MessageBody: 'x' }))).toEqual([`sqs:SendMessage arn:aws:sqs:us-east-1:${ACCOUNT}:jobs.fifo`]);
    expect(summary(jsonNeeds('sqs', 'AmazonSQS.SendMessage', { QueueUrl: 'not a url' }))).toMatch(/^refused/);
  });

  it('Secrets Manager: a name stands for name-?????? (the random suffix)', () => {
    expect(summary(jsonNeeds('secretsmanager', 'secretsmanager.GetSecretValue', { SecretId: 'prod/db' }))).toEqual(['secretsmanager:GetSecretValue arn:aws:secretsmanager:us-east-1::secret:prod/db-?????? ! ~']);
    const arn = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:prod/db-AbCdEf`;
    expect(summary(jsonNeeds('secretsmanager', 'secretsmanager.GetSecretValue', { SecretId: arn }))).toEqual([`secretsmanager:GetSecretValue ${arn}`]);
  });
});

describe('iamNeeds: query protocols', () => {
  it('SQS (query): the same queue, from the form body or from the request path', () => {
    const url = `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/jobs`;
    expect(summary(queryNeeds('sqs', { Action: 'SendMessage', Version: '2012-11-05', QueueUrl: url, MessageBody: 'x' }))).toEqual([`sqs:SendMessage arn:aws:sqs:us-east-1:${ACCOUNT}:jobs`]);
    const legacy = queryNeeds('sqs', { Action: 'DeleteMessage', Version: '2012-11-05', ReceiptHandle: 'h' }, { host: 'sqs.us-east-1.amazonaws.com', path: `/${ACCOUNT}/jobs` });
    expect(summary(legacy)).toEqual([`sqs:DeleteMessage arn:aws:sqs:us-east-1:${ACCOUNT}:jobs`]);
  });

  it('SQS CreateQueue with tags needs sqs:TagQueue in both protocols', () => {
    expect(summary(queryNeeds('sqs', { Action: 'CreateQueue', Version: '2012-11-05', QueueName: 'q', 'Tag.1.Key': 'team', 'Tag.1.Value': 'a' }))).toEqual(['sqs:CreateQueue arn:aws:sqs:us-east-1::q !', 'sqs:TagQueue arn:aws:sqs:us-east-1::q !']);
    expect(summary(jsonNeeds('sqs', 'AmazonSQS.CreateQueue', { QueueName: 'q', tags: { team: 'a' } }))).toEqual(['sqs:CreateQueue arn:aws:sqs:us-east-1::q !', 'sqs:TagQueue arn:aws:sqs:us-east-1::q !']);
    expect(summary(queryNeeds('sqs', { Action: 'CreateQueue', Version: '2012-11-05', QueueName: 'q' }))).toEqual(['sqs:CreateQueue arn:aws:sqs:us-east-1::q !']);
  });

  it('EC2 RunInstances: image, subnet and each security group, new instances and volumes as wildcards', () => {
    const result = queryNeeds('ec2', { Action: 'RunInstances', Version: '2016-11-15', ImageId: 'ami-123', MinCount: '1', MaxCount: '1', SubnetId: 'subnet-1', 'SecurityGroupId.1': 'sg-1', 'SecurityGroupId.2': 'sg-2' });
    expect(summary(result)).toEqual([
      'ec2:RunInstances arn:aws:ec2:us-east-1::image/ami-123',
      'ec2:RunInstances arn:aws:ec2:us-east-1::instance/* ! ~',
      'ec2:RunInstances arn:aws:ec2:us-east-1::network-interface/* ! ~',
      'ec2:RunInstances arn:aws:ec2:us-east-1::security-group/sg-1 !',
      'ec2:RunInstances arn:aws:ec2:us-east-1::security-group/sg-2 !',
      'ec2:RunInstances arn:aws:ec2:us-east-1::subnet/subnet-1 !',
      'ec2:RunInstances arn:aws:ec2:us-east-1::volume/* ! ~',
    ]);
  });

  it('CloudWatch DeleteAlarms: list members in query form (AlarmNames.member.N) and in JSON', () => {
    const expected = ['cloudwatch:DeleteAlarms arn:aws:cloudwatch:us-east-1::alarm:a1 !', 'cloudwatch:DeleteAlarms arn:aws:cloudwatch:us-east-1::alarm:a2 !'];
    expect(summary(queryNeeds('cloudwatch', { Action: 'DeleteAlarms', Version: '2010-08-01', 'AlarmNames.member.2': 'a2', 'AlarmNames.member.1': 'a1' }))).toEqual(expected);
    expect(summary(jsonNeeds('cloudwatch', 'GraniteServiceVersion20100801.DeleteAlarms', { AlarmNames: ['a1', 'a2'] }))).toEqual(expected);
  });

  it('EC2 TerminateInstances: one ARN per instance', () => {
    expect(summary(queryNeeds('ec2', { Action: 'TerminateInstances', Version: '2016-11-15', 'InstanceId.1': 'i-1', 'InstanceId.2': 'i-2' }))).toEqual([
      'ec2:TerminateInstances arn:aws:ec2:us-east-1::instance/i-1 !',
      'ec2:TerminateInstances arn:aws:ec2:us-east-1::instance/i-2 !',
    ]);
  });

  it('STS AssumeRole takes the role ARN; IAM names fill the account later', () => {
    const role = `arn:aws:iam::${ACCOUNT}:role/deploy`;
    expect(summary(queryNeeds('sts', { Action: 'AssumeRole', Version: '2011-06-15', RoleArn: role, RoleSessionName: 's' }))).toEqual([`sts:AssumeRole ${role}`]);
    expect(summary(queryNeeds('sts', { Action: 'AssumeRole', Version: '2011-06-15', RoleArn: 'deploy' }))).toMatch(/^refused/);
    expect(summary(queryNeeds('iam', { Action: 'GetRole', Version: '2010-05-08', RoleName: 'deploy' }))).toEqual(['iam:GetRole arn:aws:iam:::role/deploy !']);
  });
});

describe('iamNeeds: REST JSON services', () => {
  it('Lambda Invoke: names, qualifiers and full ARNs; an ARN of another service is refused', () => {
    expect(summary(restNeeds('lambda', { method: 'POST', target: '/2015-03-31/functions/my-fn/invocations' }))).toEqual(['lambda:InvokeFunction arn:aws:lambda:us-east-1::function:my-fn !']);
    expect(summary(restNeeds('lambda', { method: 'POST', target: '/2015-03-31/functions/my-fn/invocations?Qualifier=prod' }))).toEqual(['lambda:InvokeFunction arn:aws:lambda:us-east-1::function:my-fn:prod !']);
    const arn = `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:my-fn`;
    expect(summary(restNeeds('lambda', { method: 'POST', target: `/2015-03-31/functions/${encodeURIComponent(arn)}/invocations` }))).toEqual([`lambda:InvokeFunction ${arn}`]);
    expect(summary(restNeeds('lambda', { method: 'POST', target: `/2015-03-31/functions/${encodeURIComponent(`arn:aws:s3:::${ACCOUNT}:x:y`)}/invocations` }))).toMatch(/^refused/);
  });

  it('Bedrock Runtime: foundation models, inference profiles and model ARNs', () => {
    expect(summary(restNeeds('bedrockruntime', { method: 'POST', target: '/model/anthropic.claude-3-haiku-20240307-v1:0/converse', body: '{}' }))).toEqual(['bedrock:InvokeModel arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0']);
    expect(summary(restNeeds('bedrockruntime', { method: 'POST', target: '/model/us.anthropic.claude-3-haiku-20240307-v1:0/invoke', body: '{}' }))).toEqual(['bedrock:InvokeModel arn:aws:bedrock:us-east-1::inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0 !']);
  });

  it('refuses an operation without a known IAM action', () => {
    const s = service('codecatalyst');
    const op = [...s.operations.values()].find((o) => o.iam === undefined);
    expect(op).toBeDefined();
    if (op === undefined) return;
    expect(summary(iamNeeds(s, op, requestMembers(op, { query: {}, headers: {}, body: Buffer.from('{}'), protocol: 'rest-json' }), { region: 'us-east-1' }))).toMatch(/^refused: no IAM action/);
  });

  it('says which operations need their body buffered', () => {
    const s3 = service('s3');
    expect(readsBody(s3.operations.get('GetObject') as RouteOperation)).toBe(false);
    expect(readsBody(s3.operations.get('PutObject') as RouteOperation)).toBe(false);
    expect(readsBody(s3.operations.get('DeleteObjects') as RouteOperation)).toBe(true);
    expect(readsBody(service('dynamodb').operations.get('GetItem') as RouteOperation)).toBe(true);
  });

  it('fills the account when it is known', () => {
    expect(summary(restNeeds('lambda', { method: 'GET', target: '/2015-03-31/functions/f', account: ACCOUNT }))).toEqual([`lambda:GetFunction arn:aws:lambda:us-east-1:${ACCOUNT}:function:f`]);
  });
});

describe('iamNeeds: names, accounts and list selections from the request', () => {
  it('SSM: a parameter ARN drops the name\'s leading slash and any selector; names SSM rejects are refused', () => {
    const get = (Name: string) => summary(jsonNeeds('ssm', 'AmazonSSM.GetParameter', { Name }));
    expect(get('/app/db/url')).toEqual(['ssm:GetParameter arn:aws:ssm:us-east-1::parameter/app/db/url !']);
    expect(get('plain')).toEqual(['ssm:GetParameter arn:aws:ssm:us-east-1::parameter/plain !']);
    expect(get('/app/db:3')).toEqual(['ssm:GetParameter arn:aws:ssm:us-east-1::parameter/app/db !']);
    expect(get(`arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/shared/x:prod`)).toEqual([`ssm:GetParameter arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/shared/x`]);
    for (const bad of ['app/db', '/app//db', '/', '/a*', `arn:aws:sqs:us-east-1:${ACCOUNT}:parameter/x`]) expect(get(bad)).toMatch(/^refused/);
    expect(summary(jsonNeeds('ssm', 'AmazonSSM.GetParameters', { Names: ['/a/b', 'c'] }))).toEqual(['ssm:GetParameters arn:aws:ssm:us-east-1::parameter/a/b !', 'ssm:GetParameters arn:aws:ssm:us-east-1::parameter/c !']);
    expect(summary(jsonNeeds('ssm', 'AmazonSSM.PutParameter', { Name: '/app/new', Value: 'v' }))).toEqual(['ssm:PutParameter arn:aws:ssm:us-east-1::parameter/app/new !']);
  });

  it('SSM GetParametersByPath: the path\'s own parameter ARN (IAM evaluates the path, not what is below it)', () => {
    const byPath = (Path: string) => summary(jsonNeeds('ssm', 'AmazonSSM.GetParametersByPath', { Path, Recursive: true }));
    expect(byPath('/app')).toEqual(['ssm:GetParametersByPath arn:aws:ssm:us-east-1::parameter/app !']);
    // The trailing slash stays: AWS evaluates Path /app/ on parameter/app/ (routes-peer-classes.test.ts).
    expect(byPath('/app/')).toEqual(['ssm:GetParametersByPath arn:aws:ssm:us-east-1::parameter/app/ !']);
  });

  it('Lambda: a partial ARN (account:function:name) names the function\'s account', () => {
    const path = (name: string) => `/2015-03-31/functions/${encodeURIComponent(name)}`;
    expect(summary(restNeeds('lambda', { target: path(`${ACCOUNT}:function:my-fn`) }))).toEqual([`lambda:GetFunction arn:aws:lambda:us-east-1:${ACCOUNT}:function:my-fn`]);
    expect(summary(restNeeds('lambda', { target: path(`${ACCOUNT}:function:my-fn`), account: '999999999999' }))).toEqual([`lambda:GetFunction arn:aws:lambda:us-east-1:${ACCOUNT}:function:my-fn`]);
    expect(summary(restNeeds('lambda', { method: 'POST', target: `${path(`${ACCOUNT}:function:my-fn:live`)}/invocations` }))).toEqual([`lambda:InvokeFunction arn:aws:lambda:us-east-1:${ACCOUNT}:function:my-fn:live`]);
  });

  it('KMS: an alias ARN is any key of the alias\'s account and Region', () => {
    expect(summary(jsonNeeds('kms', 'TrentService.GenerateDataKey', { KeyId: `arn:aws:kms:us-east-1:${ACCOUNT}:alias/app` }))).toEqual([`kms:GenerateDataKey arn:aws:kms:us-east-1:${ACCOUNT}:key/* ~`]);
    expect(summary(jsonNeeds('kms', 'TrentService.Encrypt', { KeyId: `arn:aws:kms:eu-west-1:${ACCOUNT}:alias/app` }))).toEqual([`kms:Encrypt arn:aws:kms:eu-west-1:${ACCOUNT}:key/* ~`]);
  });

  it('ECR: registryId is the repository\'s account; absent, the caller\'s; not an account ID, refused', () => {
    const get = (body: object) => summary(jsonNeeds('ecr', 'AmazonEC2ContainerRegistry_V20150921.BatchGetImage', { repositoryName: 'app/web', imageIds: [{ imageTag: 'v1' }], ...body }));
    expect(get({ registryId: ACCOUNT })).toEqual([`ecr:BatchGetImage arn:aws:ecr:us-east-1:${ACCOUNT}:repository/app/web`]);
    expect(get({})).toEqual(['ecr:BatchGetImage arn:aws:ecr:us-east-1::repository/app/web !']);
    expect(get({ registryId: 'someone' })).toMatch(/^refused/);
  });

  it('Glue: a table is authorised on the catalog, the database and the table, in the CatalogId\'s account', () => {
    const get = (body: object) => summary(jsonNeeds('glue', 'AWSGlue.GetTable', { DatabaseName: 'sales', Name: 'orders', ...body }));
    expect(get({})).toEqual(['glue:GetTable arn:aws:glue:us-east-1::database/sales !', 'glue:GetTable arn:aws:glue:us-east-1::catalog !', 'glue:GetTable arn:aws:glue:us-east-1::table/sales/orders !']);
    expect(get({ CatalogId: ACCOUNT })).toEqual([
      `glue:GetTable arn:aws:glue:us-east-1:${ACCOUNT}:database/sales`,
      `glue:GetTable arn:aws:glue:us-east-1:${ACCOUNT}:catalog`,
      `glue:GetTable arn:aws:glue:us-east-1:${ACCOUNT}:table/sales/orders`,
    ]);
    expect(get({ CatalogId: `${ACCOUNT}:s3tablescatalog/bucket` })).toMatch(/^refused/);
  });

  it('EventBridge PutEvents: each named bus, and the default bus only for entries that name none', () => {
    const put = (Entries: object[]) => summary(jsonNeeds('eventbridge', 'AWSEvents.PutEvents', { Entries }));
    expect(put([{ Source: 's', EventBusName: 'orders' }])).toEqual(['events:PutEvents arn:aws:events:us-east-1::event-bus/orders !']);
    expect(put([{ Source: 's', EventBusName: 'orders' }, { Source: 's' }])).toEqual(['events:PutEvents arn:aws:events:us-east-1::event-bus/orders !', 'events:PutEvents arn:aws:events:us-east-1::event-bus/default !']);
    expect(put([{ Source: 's', EventBusName: `arn:aws:events:us-east-1:${ACCOUNT}:event-bus/x` }])).toEqual([`events:PutEvents arn:aws:events:us-east-1:${ACCOUNT}:event-bus/x`]);
    expect(put([{ Source: 's', EventBusName: '' }])).toEqual(['events:PutEvents arn:aws:events:us-east-1::event-bus/default !']);
  });

  it('iam:PassRole only when the request names a role', () => {
    expect(summary(jsonNeeds('eventbridge', 'AWSEvents.PutRule', { Name: 'nightly', ScheduleExpression: 'rate(1 day)' }))).toEqual(['events:PutRule arn:aws:events:us-east-1::rule/nightly !']);
    const role = `arn:aws:iam::${ACCOUNT}:role/events`;
    expect(summary(jsonNeeds('eventbridge', 'AWSEvents.PutRule', { Name: 'nightly', RoleArn: role }))).toEqual(['events:PutRule arn:aws:events:us-east-1::rule/nightly !', `iam:PassRole ${role}`]);
    expect(summary(queryNeeds('cloudformation', { Action: 'CreateStack', Version: '2010-05-15', StackName: 'web', RoleARN: role }))).toEqual(['cloudformation:CreateStack arn:aws:cloudformation:us-east-1::stack/web/* ! ~', `iam:PassRole ${role}`]);
    expect(summary(queryNeeds('cloudformation', { Action: 'CreateStack', Version: '2010-05-15', StackName: 'web' }))).toEqual(['cloudformation:CreateStack arn:aws:cloudformation:us-east-1::stack/web/* ! ~']);
    // An instance profile passes the role inside it, which the request does not name.
    expect(summary(queryNeeds('ec2', { Action: 'AssociateIamInstanceProfile', Version: '2016-11-15', InstanceId: 'i-1', 'IamInstanceProfile.Arn': `arn:aws:iam::${ACCOUNT}:instance-profile/p` }))).toEqual([
      'ec2:AssociateIamInstanceProfile arn:aws:ec2:us-east-1::instance/i-1 !',
      'iam:PassRole arn:aws:iam:::role/* ! ~',
    ]);
  });

  it('SNS: iam:PassRole only for delivery-status logging roles', () => {
    const create = (extra: Record<string, string>) => summary(queryNeeds('sns', { Action: 'CreateTopic', Version: '2010-03-31', Name: 'alerts', ...extra }));
    expect(create({})).toEqual(['sns:CreateTopic arn:aws:sns:us-east-1::alerts !']);
    expect(create({ 'Attributes.entry.1.key': 'DisplayName', 'Attributes.entry.1.value': 'A' })).toEqual(['sns:CreateTopic arn:aws:sns:us-east-1::alerts !']);
    expect(create({ 'Attributes.entry.1.key': 'HTTPSuccessFeedbackRoleArn', 'Attributes.entry.1.value': `arn:aws:iam::${ACCOUNT}:role/sns` })).toEqual(['sns:CreateTopic arn:aws:sns:us-east-1::alerts !', 'iam:PassRole arn:aws:iam:::role/* ! ~']);
    const topic = `arn:aws:sns:us-east-1:${ACCOUNT}:alerts`;
    const set = (AttributeName: string, AttributeValue: string) => summary(queryNeeds('sns', { Action: 'SetTopicAttributes', Version: '2010-03-31', TopicArn: topic, AttributeName, AttributeValue }));
    expect(set('DisplayName', 'A')).toEqual([`sns:SetTopicAttributes ${topic}`]);
    expect(set('LambdaFailureFeedbackRoleArn', `arn:aws:iam::${ACCOUNT}:role/sns`)).toEqual([`sns:SetTopicAttributes ${topic}`, `iam:PassRole arn:aws:iam::${ACCOUNT}:role/sns`]);
    expect(set('LambdaFailureFeedbackRoleArn', 'not-a-role')).toMatch(/^refused/);
  });

  it('DynamoDB Query and Scan: the index ARN alone for an index, the table otherwise', () => {
    expect(summary(jsonNeeds('dynamodb', 'DynamoDB_20120810.Query', { TableName: 'orders', IndexName: 'by-customer' }))).toEqual(['dynamodb:Query arn:aws:dynamodb:us-east-1::table/orders/index/by-customer !']);
    const table = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/orders`;
    expect(summary(jsonNeeds('dynamodb', 'DynamoDB_20120810.Scan', { TableName: table, IndexName: 'by-customer' }))).toEqual([`dynamodb:Scan ${table}/index/by-customer`]);
    expect(summary(jsonNeeds('dynamodb', 'DynamoDB_20120810.Scan', { TableName: table }))).toEqual([`dynamodb:Scan ${table}`]);
    expect(summary(jsonNeeds('dynamodb', 'DynamoDB_20120810.Query', { TableName: 'a b', IndexName: 'i' }))).toMatch(/^refused/);
  });

  it('EC2 RunInstances: subnets and security groups per network interface, the defaults when none is named, launch templates by name', () => {
    const run = (form: Record<string, string>) => summary(queryNeeds('ec2', { Action: 'RunInstances', Version: '2016-11-15', MinCount: '1', MaxCount: '1', ...form }));
    expect(run({ ImageId: 'ami-1', 'NetworkInterface.1.DeviceIndex': '0', 'NetworkInterface.1.SubnetId': 'subnet-1', 'NetworkInterface.1.SecurityGroupId.1': 'sg-1' })).toEqual([
      'ec2:RunInstances arn:aws:ec2:us-east-1::image/ami-1',
      'ec2:RunInstances arn:aws:ec2:us-east-1::instance/* ! ~',
      'ec2:RunInstances arn:aws:ec2:us-east-1::network-interface/* ! ~',
      'ec2:RunInstances arn:aws:ec2:us-east-1::security-group/sg-1 !',
      'ec2:RunInstances arn:aws:ec2:us-east-1::subnet/subnet-1 !',
      'ec2:RunInstances arn:aws:ec2:us-east-1::volume/* ! ~',
    ]);
    expect(run({ ImageId: 'ami-1' })).toEqual([
      'ec2:RunInstances arn:aws:ec2:us-east-1::image/ami-1',
      'ec2:RunInstances arn:aws:ec2:us-east-1::instance/* ! ~',
      'ec2:RunInstances arn:aws:ec2:us-east-1::network-interface/* ! ~',
      'ec2:RunInstances arn:aws:ec2:us-east-1::volume/* ! ~',
      'ec2:RunInstances arn:aws:ec2:us-east-1::security-group/* ! ~',
      'ec2:RunInstances arn:aws:ec2:us-east-1::subnet/* ! ~',
    ]);
    const byName = run({ 'LaunchTemplate.LaunchTemplateName': 'web' });
    expect(byName).toContain('ec2:RunInstances arn:aws:ec2:us-east-1::launch-template/* ! ~');
    expect(byName).toContain('ec2:RunInstances arn:aws:ec2:us-east-1::image/* ~');
    expect(byName).toContain('iam:PassRole arn:aws:iam:::role/* ! ~');
  });

  it('list selections are read from JSON and XML bodies only', () => {
    const op = service('eventbridge').operations.get('PutEvents') as RouteOperation;
    const read = requestMembers(op, { query: {}, headers: {}, body: Buffer.from('{"Entries":[{"EventBusName":"a"},{},{"EventBusName":null}]}'), protocol: 'json' });
    expect(read('Entries[!EventBusName]')).toEqual(['{}', '{"EventBusName":null}']);
    const form = requestMembers({ ...op, members: { 'Entries[!EventBusName]': 'body:Entries.member.#[!EventBusName]' } }, { query: {}, headers: {}, body: Buffer.from('Action=PutEvents'), protocol: 'query' });
    expect(form('Entries[!EventBusName]')).toBeUndefined();
  });
});

describe('iamNeeds: IAM paths in the ARNs of new IAM resources', () => {
  const iam = (form: Record<string, string>, account?: string): string[] | string => {
    const s = service('iam');
    const op = matchQueryOperation(s, form.Action ?? '', '2010-05-08');
    if (op === undefined) throw new Error(`no operation ${form.Action}`);
    const parts: RequestParts = { query: {}, headers: {}, body: Buffer.from(new URLSearchParams({ Version: '2010-05-08', ...form }).toString()), protocol: 'query' };
    return summary(iamNeeds(s, op, requestMembers(op, parts), { region: 'us-east-1', ...(account === undefined ? {} : { account }) }));
  };
  const createRole = (extra: Record<string, string> = {}, account?: string) => iam({ Action: 'CreateRole', RoleName: 'agent-made-role', AssumeRolePolicyDocument: '{}', ...extra }, account);

  it('CreateRole without a Path: role/<name>, the account from the context or left to fill', () => {
    expect(createRole()).toEqual(['iam:CreateRole arn:aws:iam:::role/agent-made-role !']);
    expect(createRole({}, ACCOUNT)).toEqual([`iam:CreateRole arn:aws:iam::${ACCOUNT}:role/agent-made-role`]);
    // an empty Path is no Path
    expect(createRole({ Path: '' })).toEqual(['iam:CreateRole arn:aws:iam:::role/agent-made-role !']);
  });

  it('CreateRole with Path "/" is the same role; a longer path goes between role and the name', () => {
    expect(createRole({ Path: '/' })).toEqual(['iam:CreateRole arn:aws:iam:::role/agent-made-role !']);
    expect(createRole({ Path: '/team/' }, ACCOUNT)).toEqual([`iam:CreateRole arn:aws:iam::${ACCOUNT}:role/team/agent-made-role`]);
    expect(createRole({ Path: '/team/dev/' })).toEqual(['iam:CreateRole arn:aws:iam:::role/team/dev/agent-made-role !']);
    // JSON body (the same members) as well
    const s = service('iam');
    const op = matchQueryOperation(s, 'CreateRole', '2010-05-08');
    if (op === undefined) throw new Error('no CreateRole');
    const json = Buffer.from(JSON.stringify({ RoleName: 'r', Path: '/team/' }));
    expect(summary(iamNeeds(s, op, requestMembers(op, { query: {}, headers: {}, body: json, protocol: 'json' }), { region: 'us-east-1' }))).toEqual(['iam:CreateRole arn:aws:iam:::role/team/r !']);
  });

  it('CreateRole with a Path that is not an IAM path is refused, never widened', () => {
    for (const path of ['team', 'team/', '/team', '//', '/te am/', '/team/\u00e9/', 'x/team/']) {
      expect(createRole({ Path: path }), path).toMatch(/^refused: iam:CreateRole/);
    }
    // the body could not be read: refused, not guessed
    const s = service('iam');
    const op = matchQueryOperation(s, 'CreateRole', '2010-05-08');
    if (op === undefined) throw new Error('no CreateRole');
    expect(summary(iamNeeds(s, op, requestMembers(op, { query: {}, headers: {}, body: undefined, protocol: 'json' }), { region: 'us-east-1' }))).toMatch(/^refused/);
  });

  it('CreateUser, CreateGroup, CreatePolicy, CreateInstanceProfile, CreateVirtualMFADevice, UploadServerCertificate', () => {
    expect(iam({ Action: 'CreateUser', UserName: 'alice' }, ACCOUNT)).toEqual([`iam:CreateUser arn:aws:iam::${ACCOUNT}:user/alice`]);
    expect(iam({ Action: 'CreateUser', UserName: 'alice', Path: '/' })).toEqual(['iam:CreateUser arn:aws:iam:::user/alice !']);
    expect(iam({ Action: 'CreateUser', UserName: 'alice', Path: '/eng/' })).toEqual(['iam:CreateUser arn:aws:iam:::user/eng/alice !']);
    expect(iam({ Action: 'CreateUser', UserName: 'alice', Path: 'eng' })).toMatch(/^refused: iam:CreateUser/);
    expect(iam({ Action: 'CreateGroup', GroupName: 'ops' })).toEqual(['iam:CreateGroup arn:aws:iam:::group/ops !']);
    expect(iam({ Action: 'CreatePolicy', PolicyName: 'p', PolicyDocument: '{}', Path: '/' })).toEqual(['iam:CreatePolicy arn:aws:iam:::policy/p !']);
    expect(iam({ Action: 'CreateInstanceProfile', InstanceProfileName: 'ip', Path: '/web/' })).toEqual(['iam:CreateInstanceProfile arn:aws:iam:::instance-profile/web/ip !']);
    expect(iam({ Action: 'CreateVirtualMFADevice', VirtualMFADeviceName: 'phone' })).toEqual(['iam:CreateVirtualMFADevice arn:aws:iam:::mfa/phone !']);
    expect(iam({ Action: 'UploadServerCertificate', ServerCertificateName: 'c', CertificateBody: 'b', PrivateKey: 'k', Path: '/cloudfront/' })).toEqual([
      'iam:UploadServerCertificate arn:aws:iam:::server-certificate/cloudfront/c !',
    ]);
  });

  it('ListAttached*Policies: PathPrefix filters the policies, it is not part of the role, user or group', () => {
    expect(iam({ Action: 'ListAttachedRolePolicies', RoleName: 'deploy' })).toEqual(['iam:ListAttachedRolePolicies arn:aws:iam:::role/deploy !']);
    expect(iam({ Action: 'ListAttachedRolePolicies', RoleName: 'deploy', PathPrefix: '/' })).toEqual(['iam:ListAttachedRolePolicies arn:aws:iam:::role/deploy !']);
    expect(iam({ Action: 'ListAttachedUserPolicies', UserName: 'alice', PathPrefix: '/team/' })).toEqual(['iam:ListAttachedUserPolicies arn:aws:iam:::user/alice !']);
    expect(iam({ Action: 'ListAttachedGroupPolicies', GroupName: 'ops' })).toEqual(['iam:ListAttachedGroupPolicies arn:aws:iam:::group/ops !']);
  });
});
