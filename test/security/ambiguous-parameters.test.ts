// Requests two parsers could read differently: countersign decides on its reading and forwards
// the whole request, so wherever AWS might read another value, an agent could get a decision on
// one resource and act on another. Each is refused (AmbiguousRequest, MalformedRequestBody),
// never decided on a guess; the requests an SDK sends still classify (sdk-corpus.test.ts).
import { describe, expect, it } from 'vitest';
import { type ClassifyInput } from '../../src/aws/classify/index.js';
import { parseQuery } from '../../src/aws/query-string.js';
import { pairs, refusal, run, type Request } from '../support/classify-request.js';

const form = (service: string, body: string, query = '', extra: Partial<Request> = {}): Request => ({
  method: 'POST',
  host: `${service}.amazonaws.com`,
  rawPath: '/',
  query: parseQuery(query),
  headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
  body: Buffer.from(body),
  service,
  ...extra,
});

const getRole = (body: string, query = '') => form('iam', `Action=GetRole&Version=2010-05-08&${body}`, query);

const dynamodb = (operation: string, body: string | Buffer): Request => ({
  method: 'POST',
  host: 'dynamodb.us-east-1.amazonaws.com',
  rawPath: '/',
  headers: { 'x-amz-target': `DynamoDB_20120810.${operation}`, 'content-type': 'application/x-amz-json-1.0' },
  body: typeof body === 'string' ? Buffer.from(body) : body,
  service: 'dynamodb',
});

const rest = (service: string, host: string, method: string, target: string, headers: ClassifyInput['headers'] = {}, body?: string, region = 'us-east-1'): Request => {
  const [rawPath = '/', query = ''] = target.split('?', 2);
  return {
    method,
    host,
    rawPath,
    query: parseQuery(query),
    headers: body === undefined ? headers : { 'content-length': String(Buffer.byteLength(body)), ...headers },
    ...(body !== undefined && { body: Buffer.from(body) }),
    service,
    region,
  };
};

const nested = (depth: number, leaf = '1'): string => `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;

describe('query protocol: every parameter once, in one place', () => {
  it('refuses a query parameter given in both the URL and the body (GetRole admin vs public-a)', () => {
    // Decided on the body's public-a while the URL's admin went upstream: moto executed GetRole on admin.
    expect(refusal(getRole('RoleName=public-a', 'RoleName=admin'))).toBe('AmbiguousRequest: RoleName differs between the URL and the body; send each parameter once, in the body.');
  });

  it('refuses a query parameter given in both the URL and the body with the same value', () => {
    // Same as countersign decodes them is not the same as AWS may (a URL's "+" against a form's).
    expect(refusal(getRole('RoleName=a%2Bb', 'RoleName=a+b'))).toMatch(/^AmbiguousRequest: RoleName is given in both the URL and the body/);
    expect(refusal(getRole('RoleName=public-a', 'RoleName=public-a'))).toMatch(/^AmbiguousRequest: RoleName is given in both the URL and the body/);
  });

  it('refuses Action given in both the URL and the body, differing or not', () => {
    expect(refusal(form('iam', 'Action=GetRole&RoleName=a', 'Action=DeleteRole'))).toMatch(/^AmbiguousRequest: Action differs between the URL and the body/);
    expect(refusal(form('iam', 'Action=GetRole&RoleName=a', 'Action=GetRole'))).toMatch(/^AmbiguousRequest: Action is given in both the URL and the body/);
  });

  it('refuses a repeated RoleName in a form body', () => {
    expect(refusal(getRole('RoleName=public-a&RoleName=admin'))).toBe('AmbiguousRequest: The form body gives RoleName more than once; send each parameter once.');
    // The same name spelt with percent-encoding is the same name.
    expect(refusal(getRole('RoleName=public-a&Role%4Eame=admin'))).toMatch(/^AmbiguousRequest: The form body gives RoleName more than once/);
  });

  it('refuses a repeated parameter in a query-protocol URL (GET, POST, EC2)', () => {
    const get: Request = { method: 'GET', host: 'iam.amazonaws.com', rawPath: '/', query: parseQuery('Action=GetRole&Version=2010-05-08&RoleName=public-a&RoleName=admin'), service: 'iam' };
    expect(refusal(get)).toBe('AmbiguousRequest: The URL gives RoleName more than once; send each parameter once.');
    expect(refusal(form('iam', 'Action=GetRole&Version=2010-05-08', 'RoleName=a&RoleName=b'))).toMatch(/^AmbiguousRequest: The URL gives RoleName more than once/);
    expect(refusal(form('ec2', 'Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.1=i-2', '', { host: 'ec2.us-east-1.amazonaws.com' }))).toMatch(
      /^AmbiguousRequest: The form body gives InstanceId\.1 more than once/,
    );
  });

  it('refuses parameter names that differ only in case (RoleName and rolename)', () => {
    expect(refusal(getRole('RoleName=public-a&rolename=admin'))).toMatch(/^AmbiguousRequest: The form body gives RoleName and rolename, which may name one parameter/);
    expect(refusal(getRole('RoleName=public-a', 'rolename=admin'))).toMatch(/^AmbiguousRequest: rolename and RoleName may name one parameter/);
  });

  it('shows an agent-chosen name quoted and cut short', () => {
    const long = `Role\u0007${'x'.repeat(200)}`;
    const message = refusal(getRole(`${encodeURIComponent(long)}=a&${encodeURIComponent(long)}=b`));
    expect(message).toContain(`gives "Role\\u0007${'x'.repeat(59)}..." more than once`);
    expect(message.length).toBeLessThan(200);
  });

  it('refuses an SQS request whose path names one queue and QueueUrl another', () => {
    const queue = (name: string) => encodeURIComponent(`https://sqs.us-east-1.amazonaws.com/123456789012/${name}`);
    const sqs = (body: string): Request => form('sqs', body, '', { host: 'sqs.us-east-1.amazonaws.com', rawPath: '/123456789012/public' });
    expect(refusal(sqs(`Action=SendMessage&QueueUrl=${queue('admin')}&MessageBody=x`))).toMatch(/^AmbiguousRequest: The request path names one SQS queue and QueueUrl names another/);
    expect(pairs(run(sqs(`Action=SendMessage&QueueUrl=${queue('public')}&MessageBody=x`)))).toEqual(['sqs:SendMessage arn:aws:sqs:us-east-1:123456789012:public']);
    expect(pairs(run(sqs('Action=SendMessage&MessageBody=x')))).toEqual(['sqs:SendMessage arn:aws:sqs:us-east-1:123456789012:public']);
  });

  it('still classifies a parameter given once, in the body or in the URL', () => {
    expect(pairs(run(getRole('RoleName=public-a')))).toEqual(['iam:GetRole arn:aws:iam:::role/public-a']);
    const get: Request = { method: 'GET', host: 'iam.amazonaws.com', rawPath: '/', query: parseQuery('Action=GetRole&Version=2010-05-08&RoleName=public-a'), service: 'iam' };
    expect(pairs(run(get))).toEqual(['iam:GetRole arn:aws:iam:::role/public-a']);
    expect(pairs(run(form('iam', 'RoleName=public-a', 'Action=GetRole&Version=2010-05-08')))).toEqual(['iam:GetRole arn:aws:iam:::role/public-a']);
  });
});

describe('REST: a repeated query parameter only where the model takes a list', () => {
  it('refuses a repeated REST query parameter the operation takes once (two versionIds)', () => {
    const s3 = rest('s3', 's3.us-east-1.amazonaws.com', 'GET', '/bucket/key.txt?versionId=public&versionId=secret');
    expect(refusal(s3)).toBe('AmbiguousRequest: The URL gives versionId more than once and s3:GetObject does not take it as a list; send it once.');
    // A rule on Prefix would have seen "public/,secret/" and matched "public/*".
    expect(refusal(rest('s3', 'bucket.s3.us-east-1.amazonaws.com', 'GET', '/?list-type=2&prefix=public/&prefix=secret/'))).toMatch(/^AmbiguousRequest: The URL gives prefix more than once/);
    // A literal key of the route (?list-type=2 against ListObjects v1) too.
    expect(refusal(rest('s3', 'bucket.s3.us-east-1.amazonaws.com', 'GET', '/?list-type=2&list-type=1'))).toMatch(/^AmbiguousRequest: The URL gives list-type more than once/);
  });

  it('accepts a repeated query parameter the route table reads as a list, one ARN per value', () => {
    const describe = rest('networkmanager', 'networkmanager.us-west-2.amazonaws.com', 'GET', '/global-networks?globalNetworkIds=global-network-1&globalNetworkIds=global-network-2', {}, undefined, 'us-west-2');
    expect(pairs(run(describe))).toEqual([
      'networkmanager:DescribeGlobalNetworks arn:aws:networkmanager:::global-network/global-network-1',
      'networkmanager:DescribeGlobalNetworks arn:aws:networkmanager:::global-network/global-network-2',
    ]);
  });
});

describe('two protocols in one request', () => {
  it('refuses an SQS request dressed as JSON (X-Amz-Target ListQueues) and as query (a form body or URL Action DeleteQueue)', () => {
    const sqs = (headers: ClassifyInput['headers'], target: string, body: string) => rest('sqs', 'sqs.us-east-1.amazonaws.com', 'POST', target, { 'x-amz-target': 'AmazonSQS.ListQueues', ...headers }, body);
    expect(refusal(sqs({ 'content-type': 'application/x-www-form-urlencoded' }, '/', 'Action=DeleteQueue&QueueUrl=https://sqs.us-east-1.amazonaws.com/123456789012/q'))).toMatch(/^AmbiguousRequest: The request carries X-Amz-Target/);
    expect(refusal(sqs({ 'content-type': 'application/x-amz-json-1.0' }, '/?Action=DeleteQueue&QueueUrl=https://sqs.us-east-1.amazonaws.com/123456789012/q', '{}'))).toMatch(/^AmbiguousRequest: The request carries X-Amz-Target/);
    expect(pairs(run(sqs({ 'content-type': 'application/x-amz-json-1.0' }, '/', '{}')))).toEqual(['sqs:ListQueues *']);
  });
});

describe('REST: list members the model declares may repeat', () => {
  it('accepts UntagResource with two tagKeys (a list in the model, read by no IAM entry)', () => {
    const arn = 'arn:aws:lambda:us-east-1:123456789012:function:f';
    const untag = (query: string) => rest('lambda', 'lambda.us-east-1.amazonaws.com', 'DELETE', `/2017-03-31/tags/${encodeURIComponent(arn)}?${query}`);
    expect(pairs(run(untag('tagKeys=a&tagKeys=b')))).toEqual([`lambda:UntagResource ${arn}`]);
  });
});

describe('JSON: one key once per object, no deeper than AWS goes', () => {
  it('refuses duplicate JSON keys, also when escaped', () => {
    expect(refusal(dynamodb('GetItem', '{"TableName":"public","TableName":"admin","Key":{}}'))).toBe(
      'AmbiguousRequest: The JSON body gives the key TableName twice in one object (at character 22); JSON readers differ on which one counts. Send each key once.',
    );
    expect(refusal(dynamodb('GetItem', '{"TableName":"public","T\\u0061bleName":"admin","Key":{}}'))).toMatch(/^AmbiguousRequest: The JSON body gives the key TableName twice/);
    expect(refusal(dynamodb('GetItem', '{"T\\u0061bleName":"public","Table\\u004eame":"admin"}'))).toMatch(/^AmbiguousRequest: The JSON body gives the key TableName twice/);
  });

  it('refuses duplicate JSON keys at any depth', () => {
    expect(refusal(dynamodb('GetItem', '{"TableName":"t","Key":{"pk":{"S":"public"},"pk":{"S":"admin"}}}'))).toMatch(/^AmbiguousRequest: The JSON body gives the key pk twice/);
    const items = `{"RequestItems":{"t":{"Keys":[{"pk":{"S":"a","S":"b"}}]}}}`;
    expect(refusal(dynamodb('BatchGetItem', items))).toMatch(/^AmbiguousRequest: The JSON body gives the key S twice/);
    // A map's keys are resources: two "public" tables hide one in JSON.parse's reading.
    expect(refusal(dynamodb('BatchGetItem', '{"RequestItems":{"public":{},"admin":{},"public":{}}}'))).toMatch(/key public twice/);
    // The same key in sibling objects is no duplicate.
    expect(pairs(run(dynamodb('BatchGetItem', '{"RequestItems":{"a":{"Keys":[{"pk":{"S":"1"}},{"pk":{"S":"2"}}]},"b":{}}}')))).toHaveLength(2);
  });

  it('refuses duplicate keys in objects with many keys (the Set path)', () => {
    const keys = Array.from({ length: 40 }, (_, i) => `"k${i}":{"S":"v"}`).join(',');
    expect(refusal(dynamodb('PutItem', `{"TableName":"t","Item":{${keys},"k7":{"S":"again"}}}`))).toMatch(/key k7 twice/);
    expect(pairs(run(dynamodb('PutItem', `{"TableName":"t","Item":{${keys}}}`)))).toEqual(['dynamodb:PutItem arn:aws:dynamodb:us-east-1::table/t']);
  });

  it('refuses duplicate keys in a REST-JSON body countersign reads members from', () => {
    const create = (body: string) => rest('access-analyzer', 'access-analyzer.us-east-1.amazonaws.com', 'PUT', '/analyzer', { 'content-type': 'application/json' }, body);
    expect(refusal(create('{"analyzerName":"public","analyzerName":"admin","type":"ACCOUNT"}'))).toMatch(/^AmbiguousRequest: The JSON body gives the key analyzerName twice/);
    expect(pairs(run(create('{"analyzerName":"public","type":"ACCOUNT"}')))[0]).toBe('access-analyzer:CreateAnalyzer arn:aws:access-analyzer:us-east-1::analyzer/public');
  });

  it('refuses a duplicate key in a JSON document inside a parameter (PolicyDocument)', () => {
    // JSON.parse keeps the second "Action" and a rule on `*"Action":"*"*` would not see the first.
    const document = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Action":"s3:GetObject","Resource":"*"}]}';
    const put = form('iam', `Action=PutRolePolicy&Version=2010-05-08&RoleName=app&PolicyName=p&PolicyDocument=${encodeURIComponent(document)}`);
    expect(refusal(put)).toMatch(/^AmbiguousRequest: The JSON document in PolicyDocument gives the key Action twice/);
    const kms = dynamodbLike('kms', 'TrentService.PutKeyPolicy', { KeyId: '1234abcd-12ab-34cd-56ef-1234567890ab', PolicyName: 'default', Policy: document });
    expect(refusal(kms)).toMatch(/^AmbiguousRequest: The JSON document in Policy gives the key Action twice/);
  });

  it('refuses JSON nested 200,000 deep with MalformedRequestBody, not InternalError', () => {
    expect(refusal(dynamodb('GetItem', `{"TableName":"t","Key":${nested(200_000)}}`))).toMatch(/^MalformedRequestBody: The JSON body is nested deeper than 128 levels/);
    expect(refusal(dynamodb('ListTables', `${'['.repeat(200_000)}${']'.repeat(200_000)}`))).toMatch(/^MalformedRequestBody: The JSON body is nested deeper than 128 levels \(at character 128\)/);
    // Unclosed: refused at the 129th bracket, without reading the rest.
    expect(refusal(dynamodb('ListTables', '['.repeat(5_000_000)))).toMatch(/^MalformedRequestBody: .*nested deeper/);
    const document = encodeURIComponent(nested(200_000, '"x"'));
    expect(refusal(form('iam', `Action=PutRolePolicy&Version=2010-05-08&RoleName=app&PolicyName=p&PolicyDocument=${document}`))).toMatch(
      /^MalformedRequestBody: The JSON document in PolicyDocument is nested deeper than 128 levels/,
    );
  });

  it('accepts JSON nested as deep as DynamoDB allows (32 attribute levels, in a transaction)', () => {
    let value: unknown = { S: 'leaf' };
    for (let level = 0; level < 32; level++) value = { M: { a: value } };
    const body = JSON.stringify({ TransactItems: [{ Put: { TableName: 't', Item: { pk: { S: 'x' }, deep: value } } }] });
    expect(pairs(run(dynamodb('TransactWriteItems', body)))).toEqual(['dynamodb:PutItem arn:aws:dynamodb:us-east-1::table/t']);
    expect(refusal(dynamodb('ListTables', nested(129)))).toMatch(/^MalformedRequestBody/);
    expect(pairs(run(dynamodb('ListTables', `{"x":${nested(127)}}`)))).toEqual(['dynamodb:ListTables *']);
  });

  it('refuses a JSON-protocol body that is not JSON even when the decision needs no member', () => {
    // Another reader may take what JSON.parse does not (trailing data, a BOM, UTF-16): the rule parameters would be empty.
    for (const body of ['{"ExclusiveStartTableName":"a"} {"x":1}', '\uFEFF{}', '{"a":1,}', ' ']) {
      expect(refusal(dynamodb('ListTables', body))).toMatch(/^MalformedRequestBody: The request body is not well-formed JSON/);
    }
    expect(refusal(dynamodb('ListTables', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])))).toBe('MalformedRequestBody: The request body is not valid UTF-8.');
    expect(pairs(run(dynamodb('ListTables', '')))).toEqual(['dynamodb:ListTables *']);
  });
});

describe('XML and form bodies', () => {
  it('refuses an XML body nested 200,000 deep with MalformedRequestBody (DeleteObjects)', () => {
    const deep = `<Delete>${'<Object>'.repeat(200_000)}${'</Object>'.repeat(200_000)}</Delete>`;
    expect(refusal(rest('s3', 's3.us-east-1.amazonaws.com', 'POST', '/b?delete', {}, deep))).toBe('MalformedRequestBody: The XML body is nested deeper than 128 elements; no AWS API takes such a request.');
    const selfClosing = `${'<a>'.repeat(128)}<b/>${'</a>'.repeat(128)}`;
    expect(refusal(rest('s3', 's3.us-east-1.amazonaws.com', 'POST', '/b?delete', {}, selfClosing))).toMatch(/^MalformedRequestBody/);
    const ok = '<Delete><Object><Key>a</Key></Object></Delete>';
    expect(pairs(run(rest('s3', 's3.us-east-1.amazonaws.com', 'POST', '/b?delete', {}, ok)))).toEqual(['s3:DeleteObject arn:aws:s3:::b/a']);
  });

  it('reads a form body with 20,000 parameters and deep dotted names without recursion', () => {
    // Form names are flat strings ("A.member.1.B"): there is no nesting to overflow.
    const many = Array.from({ length: 20_000 }, (_, i) => `Tags.member.${i + 1}.Key=k${i}`).join('&');
    expect(pairs(run(getRole(`RoleName=public-a&${many}`)))).toEqual(['iam:GetRole arn:aws:iam:::role/public-a']);
    const dotted = `${'A.member.1.'.repeat(20_000)}B`;
    expect(pairs(run(getRole(`RoleName=public-a&${dotted}=x`)))).toEqual(['iam:GetRole arn:aws:iam:::role/public-a']);
  });
});

function dynamodbLike(service: string, target: string, body: unknown): Request {
  return {
    method: 'POST',
    host: `${service}.us-east-1.amazonaws.com`,
    rawPath: '/',
    headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.1' },
    body: Buffer.from(JSON.stringify(body)),
    service,
  };
}
