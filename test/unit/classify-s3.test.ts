import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { classify, type Classification } from '../../src/aws/classify/index.js';
import { s3Address } from '../../src/aws/classify/s3.js';
import { firstValue, parseFormBody, parseQuery } from '../../src/aws/query-string.js';
import { isCountersignError } from '../../src/errors.js';

/** Classifies an S3 request given its wire target (path and query) as a client would send it. */
function s3(method: string, host: string, target: string, headers: IncomingHttpHeaders = {}, region = 'us-east-1'): Classification {
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = parseQuery(q === -1 ? '' : target.slice(q + 1));
  return classify({ method, host, rawPath, query, headers, body: undefined, service: 's3', region });
}

/** The single (action, ARN) pair of a classification, as a string. */
function pairs(c: Classification): string[] {
  return c.needs.map((n) => `${n.action} ${n.resource.arn}${n.resource.needsAccount ? ' (needs account)' : ''}`);
}

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (isCountersignError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

const PATH_HOST = 's3.us-east-1.amazonaws.com';

describe('S3 addressing', () => {
  it('classifies a path-style GetObject completely', () => {
    expect(s3('GET', PATH_HOST, '/bucket/key.txt')).toEqual({
      service: 's3',
      region: 'us-east-1',
      operation: 'GetObject',
      protocol: 'rest-xml',
      needs: [{ action: 's3:GetObject', resource: { arn: 'arn:aws:s3:::bucket/key.txt', needsAccount: false } }],
      parameters: { Bucket: 'bucket', Key: 'key.txt' },
    });
  });

  it('exposes bucket, decoded key, version, prefix and ACL as parameters', () => {
    expect(s3('PUT', 'bucket.s3.amazonaws.com', '/a%20b%2Bc', { 'x-amz-acl': 'public-read' }).parameters).toEqual({ Bucket: 'bucket', Key: 'a b+c', ACL: 'public-read' });
    expect(s3('GET', PATH_HOST, '/bucket/k?versionId=v1').parameters).toEqual({ Bucket: 'bucket', Key: 'k', VersionId: 'v1' });
    expect(s3('GET', PATH_HOST, '/bucket?list-type=2&prefix=reports%2F2024').parameters).toEqual({ Bucket: 'bucket', Prefix: 'reports/2024' });
    expect(s3('GET', PATH_HOST, '/').parameters).toEqual({});
  });

  it.each([
    ['s3.amazonaws.com', '/bucket/dir/key.txt'],
    ['s3.us-west-2.amazonaws.com', '/bucket/dir/key.txt'],
    ['s3-us-west-2.amazonaws.com', '/bucket/dir/key.txt'],
    ['s3.dualstack.us-west-2.amazonaws.com', '/bucket/dir/key.txt'],
    ['bucket.s3.amazonaws.com', '/dir/key.txt'],
    ['bucket.s3.us-west-2.amazonaws.com', '/dir/key.txt'],
    ['bucket.s3-us-west-2.amazonaws.com', '/dir/key.txt'],
    ['bucket.s3.dualstack.us-west-2.amazonaws.com', '/dir/key.txt'],
  ])('reads bucket and key from %s %s', (host, path) => {
    expect(pairs(s3('GET', host, path, {}, 'us-west-2'))).toEqual(['s3:GetObject arn:aws:s3:::bucket/dir/key.txt']);
  });

  it('reads dotted bucket names from virtual-hosted and path-style requests', () => {
    expect(pairs(s3('GET', 'my.dotted.bucket.s3.us-west-2.amazonaws.com', '/k'))).toEqual(['s3:GetObject arn:aws:s3:::my.dotted.bucket/k']);
    expect(pairs(s3('GET', 'my.dotted.bucket.s3.amazonaws.com', '/k'))).toEqual(['s3:GetObject arn:aws:s3:::my.dotted.bucket/k']);
    expect(pairs(s3('GET', 'my.s3.bucket.s3.dualstack.eu-west-1.amazonaws.com', '/k'))).toEqual(['s3:GetObject arn:aws:s3:::my.s3.bucket/k']);
    expect(pairs(s3('GET', PATH_HOST, '/my.dotted.bucket/k'))).toEqual(['s3:GetObject arn:aws:s3:::my.dotted.bucket/k']);
  });

  it('uses the aws-cn and aws-us-gov partitions from the region', () => {
    expect(pairs(s3('GET', 'bucket.s3.cn-north-1.amazonaws.com.cn', '/key', {}, 'cn-north-1'))).toEqual(['s3:GetObject arn:aws-cn:s3:::bucket/key']);
    expect(pairs(s3('GET', 's3.cn-north-1.amazonaws.com.cn', '/bucket/key', {}, 'cn-north-1'))).toEqual(['s3:GetObject arn:aws-cn:s3:::bucket/key']);
    expect(pairs(s3('GET', 's3.us-gov-west-1.amazonaws.com', '/bucket/key', {}, 'us-gov-west-1'))).toEqual(['s3:GetObject arn:aws-us-gov:s3:::bucket/key']);
  });

  it('keeps the rest of a virtual-hosted path in the key', () => {
    expect(s3Address('bucket.s3.amazonaws.com', '/other/key')).toEqual({ bucket: 'bucket', key: 'other/key' });
    expect(s3Address('bucket.s3.amazonaws.com', '//leading-slash')).toEqual({ bucket: 'bucket', key: '/leading-slash' });
    expect(s3Address('bucket.s3.amazonaws.com', '/')).toEqual({ bucket: 'bucket', key: undefined });
    expect(s3Address(PATH_HOST, '/')).toEqual({ bucket: undefined, key: undefined });
    expect(s3Address(PATH_HOST, '/bucket')).toEqual({ bucket: 'bucket', key: undefined });
    expect(s3Address(PATH_HOST, '/bucket/')).toEqual({ bucket: 'bucket', key: undefined });
  });

  it('refuses invalid bucket names', () => {
    expect(refusal(() => s3('GET', PATH_HOST, '/b/key'))).toEqual({ code: 'UnclassifiedRequest', message: 'S3 request not classified: "b" is not a valid S3 bucket name.' });
    expect(refusal(() => s3('GET', PATH_HOST, '/-bucket/key')).code).toBe('UnclassifiedRequest');
    expect(refusal(() => s3('GET', PATH_HOST, '/bad%20bucket/key')).code).toBe('UnclassifiedRequest');
    expect(refusal(() => s3('GET', PATH_HOST, '/bad%2Fbucket/key')).code).toBe('UnclassifiedRequest');
  });
});

describe('S3 key decoding', () => {
  it.each([
    ['/bucket/my%20report.csv', 'arn:aws:s3:::bucket/my report.csv'],
    ['/bucket/a+b', 'arn:aws:s3:::bucket/a+b'],
    ['/bucket/a%2Bb', 'arn:aws:s3:::bucket/a+b'],
    ['/bucket/caf%C3%A9.txt', 'arn:aws:s3:::bucket/café.txt'],
    ['/bucket/k%3Dv', 'arn:aws:s3:::bucket/k=v'],
    ['/bucket/k=v', 'arn:aws:s3:::bucket/k=v'],
    ['/bucket/dir/sub/file.txt', 'arn:aws:s3:::bucket/dir/sub/file.txt'],
    ['/bucket/dir%2Ffile', 'arn:aws:s3:::bucket/dir/file'],
    ['/bucket/star*and%3Fquestion%24', 'arn:aws:s3:::bucket/star*and?question$'],
    ['/bucket/%E2%9C%93%20ok', 'arn:aws:s3:::bucket/✓ ok'],
  ])('decodes %s into %s', (path, arn) => {
    expect(s3('GET', PATH_HOST, path).needs[0]?.resource.arn).toBe(arn);
  });

  it('decodes virtual-hosted keys the same way', () => {
    expect(s3('PUT', 'bucket.s3.amazonaws.com', '/a%20b+c%2Bd%C3%A9').needs[0]?.resource.arn).toBe('arn:aws:s3:::bucket/a b+c+dé');
  });

  it('refuses an invalid percent-encoding in the path', () => {
    expect(refusal(() => s3('GET', PATH_HOST, '/bucket/bad%ZZkey'))).toEqual({
      code: 'UnclassifiedRequest',
      message: 'S3 request not classified: the path has an invalid percent-encoding.',
    });
    expect(refusal(() => s3('GET', PATH_HOST, '/bucket/truncated%C3')).code).toBe('UnclassifiedRequest');
    expect(refusal(() => s3('GET', 'bucket.s3.amazonaws.com', '/bad%')).code).toBe('UnclassifiedRequest');
  });
});

describe('S3 operations', () => {
  it('classifies the object operations', () => {
    expect(s3('GET', PATH_HOST, '/bucket/k').operation).toBe('GetObject');
    expect(s3('HEAD', PATH_HOST, '/bucket/k')).toMatchObject({ operation: 'HeadObject' });
    expect(pairs(s3('HEAD', PATH_HOST, '/bucket/k'))).toEqual(['s3:GetObject arn:aws:s3:::bucket/k']);
    expect(s3('PUT', PATH_HOST, '/bucket/k').operation).toBe('PutObject');
    expect(pairs(s3('PUT', PATH_HOST, '/bucket/k'))).toEqual(['s3:PutObject arn:aws:s3:::bucket/k']);
    expect(s3('DELETE', PATH_HOST, '/bucket/k').operation).toBe('DeleteObject');
    expect(pairs(s3('DELETE', PATH_HOST, '/bucket/k'))).toEqual(['s3:DeleteObject arn:aws:s3:::bucket/k']);
  });

  it('classifies listings', () => {
    const v2 = s3('GET', PATH_HOST, '/bucket?list-type=2&prefix=reports%2F&delimiter=%2F&max-keys=10&continuation-token=abc&start-after=x&fetch-owner=true&encoding-type=url');
    expect(v2.operation).toBe('ListObjectsV2');
    expect(pairs(v2)).toEqual(['s3:ListBucket arn:aws:s3:::bucket']);
    const v1 = s3('GET', 'bucket.s3.amazonaws.com', '/?marker=a&prefix=b');
    expect(v1.operation).toBe('ListObjects');
    expect(pairs(v1)).toEqual(['s3:ListBucket arn:aws:s3:::bucket']);
    expect(s3('GET', PATH_HOST, '/bucket').operation).toBe('ListObjects');
    expect(s3('GET', PATH_HOST, '/bucket/').operation).toBe('ListObjects');
    expect(s3('GET', PATH_HOST, '/bucket?list-type=1').operation).toBe('ListObjects');
  });

  it('classifies ListBuckets on the service host', () => {
    const c = s3('GET', 's3.amazonaws.com', '/?x-id=ListBuckets&max-buckets=10');
    expect(c.operation).toBe('ListBuckets');
    expect(c.needs).toEqual([{ action: 's3:ListAllMyBuckets', resource: { arn: '*', needsAccount: false } }]);
    expect(s3('GET', PATH_HOST, '/').operation).toBe('ListBuckets');
  });

  it('uses the version actions when versionId is given', () => {
    expect(pairs(s3('GET', PATH_HOST, '/bucket/k?versionId=abc'))).toEqual(['s3:GetObjectVersion arn:aws:s3:::bucket/k']);
    expect(pairs(s3('HEAD', PATH_HOST, '/bucket/k?versionId=abc'))).toEqual(['s3:GetObjectVersion arn:aws:s3:::bucket/k']);
    expect(pairs(s3('DELETE', PATH_HOST, '/bucket/k?versionId=abc'))).toEqual(['s3:DeleteObjectVersion arn:aws:s3:::bucket/k']);
  });

  it('accepts the JS SDK x-id hint and response overrides', () => {
    expect(pairs(s3('GET', PATH_HOST, '/bucket/k?x-id=GetObject'))).toEqual(['s3:GetObject arn:aws:s3:::bucket/k']);
    expect(pairs(s3('PUT', PATH_HOST, '/bucket/k?x-id=PutObject'))).toEqual(['s3:PutObject arn:aws:s3:::bucket/k']);
    expect(pairs(s3('DELETE', PATH_HOST, '/bucket/k?x-id=DeleteObject'))).toEqual(['s3:DeleteObject arn:aws:s3:::bucket/k']);
    expect(s3('GET', PATH_HOST, '/bucket/k?response-content-type=text%2Fplain&partNumber=1').operation).toBe('GetObject');
  });

  it.each([
    ['GET', '/bucket/k?acl'],
    ['PUT', '/bucket/k?acl'],
    ['GET', '/bucket/k?tagging'],
    ['PUT', '/bucket/k?tagging'],
    ['DELETE', '/bucket/k?tagging'],
    ['GET', '/bucket/k?attributes'],
    ['GET', '/bucket/k?torrent'],
    ['GET', '/bucket/k?uploadId=1'],
    ['PUT', '/bucket/k?partNumber=1&uploadId=1'],
    ['GET', '/bucket?acl'],
    ['GET', '/bucket?policy'],
    ['GET', '/bucket?versions'],
    ['GET', '/bucket?uploads'],
    ['GET', '/bucket?location'],
    ['GET', '/?acl'],
  ])('refuses %s %s, whose parameter selects another operation', (method, target) => {
    const { code, message } = refusal(() => s3(method, PATH_HOST, target));
    expect(code).toBe('UnclassifiedRequest');
    expect(message).toMatch(/^S3 request not classified: query parameter "[a-zA-Z]+" on [A-Za-z0-9]+ selects an unsupported operation\.$/);
  });

  it.each([
    ['POST', '/bucket/k?uploads', 'POST on an object'],
    ['POST', '/bucket/k?uploadId=1', 'POST on an object'],
    ['POST', '/bucket?delete', 'POST on a bucket'],
    ['PUT', '/bucket', 'PUT on a bucket'],
    ['DELETE', '/bucket', 'DELETE on a bucket'],
    ['HEAD', '/bucket', 'HEAD on a bucket'],
    ['PUT', '/', 'PUT on the service'],
    ['PATCH', '/bucket/k', 'PATCH on an object'],
  ])('refuses %s %s (an unsupported operation)', (method, target, what) => {
    expect(refusal(() => s3(method, PATH_HOST, target))).toEqual({
      code: 'UnclassifiedRequest',
      message: `S3 request not classified: ${what} is not a supported operation.`,
    });
  });

  it('refuses CopyObject (x-amz-copy-source)', () => {
    expect(refusal(() => s3('PUT', PATH_HOST, '/bucket/k', { 'x-amz-copy-source': '/other/secret' }))).toEqual({
      code: 'UnclassifiedRequest',
      message: 'S3 request not classified: CopyObject (x-amz-copy-source) is not supported yet.',
    });
  });

  it('refuses S3 Control requests (x-amz-account-id)', () => {
    expect(refusal(() => s3('GET', '123456789012.s3-control.us-east-1.amazonaws.com', '/v20180820/jobs', { 'x-amz-account-id': '123456789012' }))).toEqual({
      code: 'UnclassifiedRequest',
      message: 'S3 request not classified: S3 Control requests are not supported yet.',
    });
    expect(refusal(() => s3('GET', PATH_HOST, '/bucket/k', { 'x-amz-account-id': '123456789012' })).code).toBe('UnclassifiedRequest');
  });
});

describe('S3 PutObject with ACLs and tags', () => {
  it('adds s3:PutObjectAcl for x-amz-acl and x-amz-grant-* headers', () => {
    expect(pairs(s3('PUT', PATH_HOST, '/bucket/k', { 'x-amz-acl': 'public-read' }))).toEqual([
      's3:PutObject arn:aws:s3:::bucket/k',
      's3:PutObjectAcl arn:aws:s3:::bucket/k',
    ]);
    for (const grant of ['x-amz-grant-read', 'x-amz-grant-read-acp', 'x-amz-grant-write-acp', 'x-amz-grant-full-control']) {
      expect(pairs(s3('PUT', PATH_HOST, '/bucket/k', { [grant]: 'id="abc"' }))).toEqual([
        's3:PutObject arn:aws:s3:::bucket/k',
        's3:PutObjectAcl arn:aws:s3:::bucket/k',
      ]);
    }
  });

  it('adds s3:PutObjectTagging for x-amz-tagging', () => {
    expect(pairs(s3('PUT', PATH_HOST, '/bucket/k', { 'x-amz-tagging': 'a=b' }))).toEqual([
      's3:PutObject arn:aws:s3:::bucket/k',
      's3:PutObjectTagging arn:aws:s3:::bucket/k',
    ]);
  });

  it('adds one s3:PutObjectAcl however many grant headers, plus tagging', () => {
    expect(
      pairs(s3('PUT', 'bucket.s3.amazonaws.com', '/k%20k', { 'x-amz-acl': 'private', 'x-amz-grant-read': 'id="a"', 'x-amz-tagging': 'a=b', 'content-type': 'text/plain' })),
    ).toEqual(['s3:PutObject arn:aws:s3:::bucket/k k', 's3:PutObjectAcl arn:aws:s3:::bucket/k k', 's3:PutObjectTagging arn:aws:s3:::bucket/k k']);
  });

  it('needs only s3:PutObject for ordinary headers', () => {
    expect(pairs(s3('PUT', PATH_HOST, '/bucket/k', { 'content-type': 'text/plain', 'x-amz-meta-acl': 'x', 'x-amz-storage-class': 'STANDARD' }))).toEqual([
      's3:PutObject arn:aws:s3:::bucket/k',
    ]);
  });
});

describe('query strings', () => {
  it('keeps repeated keys, empty values and literal plus signs', () => {
    const q = parseQuery('a=1&b&a=2&c=x+y&d=%2B%20&&e=');
    expect({ ...q }).toEqual({ a: ['1', '2'], b: '', c: 'x+y', d: '+ ', e: '' });
    expect(firstValue(q, 'a')).toBe('1');
    expect(firstValue(q, 'c')).toBe('x+y');
    expect(firstValue(q, 'missing')).toBeUndefined();
  });

  it('stores prototype names as plain keys', () => {
    const q = parseQuery('__proto__=x&constructor=y');
    expect(Object.getPrototypeOf(q)).toBeNull();
    expect(Object.keys(q)).toEqual(['__proto__', 'constructor']);
    expect(firstValue(q, '__proto__')).toBe('x');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect('toString' in parseQuery('')).toBe(false);
  });

  it('refuses an invalid percent-encoding', () => {
    expect(refusal(() => parseQuery('a=%ZZ'))).toEqual({ code: 'MalformedAuthorization', message: 'The query string has an invalid percent-encoding.' });
  });

  it('reads form bodies with + as a space, keeping the first of repeated keys', () => {
    const form = parseFormBody(Buffer.from('Action=AssumeRole&RoleSessionName=a+b&Action=Other&X=%2B'));
    expect([...form]).toEqual([
      ['Action', 'AssumeRole'],
      ['RoleSessionName', 'a b'],
      ['X', '+'],
    ]);
  });
});
