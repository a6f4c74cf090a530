import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseQuery } from '../../src/aws/query-string.js';
import { parseAmzDate, parseAuthorization, sha256Hex, signatureMatches, signRequest } from '../../src/aws/sigv4.js';
import { AMZ_DATE, asReceived, botocoreSign, SIGNING_DATE, type BotocoreRequest } from '../support/botocore-signer.js';
import { refusal } from '../support/refusal.js';

const ACCESS_KEY = 'CSAKABCDEFGHIJKLMNOP';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

/** botocore's headers for one request signed with the agent key above. */
function signedByBotocore(spec: BotocoreRequest): Record<string, string> {
  return botocoreSign([spec], { accessKey: ACCESS_KEY, secretKey: SECRET })[0] ?? {};
}

function signatureOf(authorization: string | undefined): string {
  return /Signature=([0-9a-f]{64})/.exec(authorization ?? '')?.[1] ?? 'none';
}

function signedHeadersOf(authorization: string | undefined): string {
  return /SignedHeaders=([^,\s]+)/.exec(authorization ?? '')?.[1] ?? 'none';
}

describe('parseAuthorization', () => {
  const valid =
    'AWS4-HMAC-SHA256 Credential=CSAKABCDEFGHIJKLMNOP/20240102/us-west-2/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=' +
    'a'.repeat(64);

  it('reads every field of a valid header', () => {
    expect(parseAuthorization(valid)).toEqual({
      accessKeyId: 'CSAKABCDEFGHIJKLMNOP',
      date: '20240102',
      region: 'us-west-2',
      service: 's3',
      signedHeaders: ['host', 'x-amz-content-sha256', 'x-amz-date'],
      signature: 'a'.repeat(64),
    });
  });

  it('accepts fields separated by commas without spaces', () => {
    expect(parseAuthorization(valid.replace(/, /g, ',')).service).toBe('s3');
  });

  it('refuses a missing header as MissingAuthentication', () => {
    expect(refusal(() => parseAuthorization(undefined))).toEqual({ code: 'MissingAuthentication', message: 'The request carries no Authorization header.' });
    expect(refusal(() => parseAuthorization('')).code).toBe('MissingAuthentication');
  });

  it('refuses SigV4a as UnsupportedSigning', () => {
    expect(refusal(() => parseAuthorization(valid.replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256')))).toEqual({
      code: 'UnsupportedSigning',
      message: 'SigV4a (AWS4-ECDSA-P256-SHA256) signatures are not supported.',
    });
  });

  it('refuses SigV2 and SigV3 headers as UnsupportedSigning', () => {
    expect(refusal(() => parseAuthorization('AWS CSAKABCDEFGHIJKLMNOP:c2lnbmF0dXJl'))).toEqual({
      code: 'UnsupportedSigning',
      message: 'SigV2 signatures (Authorization: AWS KEY:SIGNATURE) are not supported.',
    });
    expect(refusal(() => parseAuthorization('AWS3-HTTPS AWSAccessKeyId=CSAK,Algorithm=HmacSHA256,Signature=c2ln')).code).toBe('UnsupportedSigning');
  });

  it('refuses other schemes as MalformedAuthorization', () => {
    expect(refusal(() => parseAuthorization('AWS4 x')).code).toBe('MalformedAuthorization');
    expect(refusal(() => parseAuthorization('Bearer token')).code).toBe('MalformedAuthorization');
    expect(refusal(() => parseAuthorization('AWS4-HMAC-SHA256')).code).toBe('MalformedAuthorization');
  });

  it('refuses a header missing Credential, SignedHeaders or Signature', () => {
    const expected = { code: 'MalformedAuthorization', message: 'The Authorization header needs Credential, SignedHeaders and Signature.' };
    expect(refusal(() => parseAuthorization(valid.replace(/, Signature=a+/, '')))).toEqual(expected);
    expect(refusal(() => parseAuthorization(valid.replace('SignedHeaders=', 'Signed=')))).toEqual(expected);
    expect(refusal(() => parseAuthorization(valid.replace('Credential=', 'Cred=')))).toEqual(expected);
  });

  it.each([
    ['a short date', 'CSAKABCDEFGHIJKLMNOP/2024012/us-west-2/s3/aws4_request'],
    ['too few parts', 'CSAKABCDEFGHIJKLMNOP/20240102/us-west-2/s3'],
    ['too many parts', 'CSAKABCDEFGHIJKLMNOP/20240102/us-west-2/s3/aws4_request/x'],
    ['an upper-case region', 'CSAKABCDEFGHIJKLMNOP/20240102/US-WEST-2/s3/aws4_request'],
    ['a bad terminator', 'CSAKABCDEFGHIJKLMNOP/20240102/us-west-2/s3/aws4_requests'],
    ['an empty key', '/20240102/us-west-2/s3/aws4_request'],
    ['an empty service', 'CSAKABCDEFGHIJKLMNOP/20240102/us-west-2//aws4_request'],
  ])('refuses a credential scope with %s', (_what, credential) => {
    expect(refusal(() => parseAuthorization(valid.replace(/Credential=[^,]+/, `Credential=${credential}`)))).toEqual({
      code: 'MalformedAuthorization',
      message: 'The credential scope must be KEY/YYYYMMDD/REGION/SERVICE/aws4_request.',
    });
  });

  it.each([
    ['upper-case hex', 'A'.repeat(64)],
    ['63 digits', 'a'.repeat(63)],
    ['65 digits', 'a'.repeat(65)],
    ['non-hex characters', 'g'.repeat(64)],
  ])('refuses a signature in %s', (_what, signature) => {
    expect(refusal(() => parseAuthorization(valid.replace(/Signature=a+/, `Signature=${signature}`)))).toEqual({
      code: 'MalformedAuthorization',
      message: 'The signature must be 64 lower-case hex digits.',
    });
  });
});

describe('parseAmzDate', () => {
  it('reads a basic-format UTC timestamp', () => {
    expect(parseAmzDate('20240102T030405Z')?.toISOString()).toBe('2024-01-02T03:04:05.000Z');
    expect(parseAmzDate('19991231T235959Z')?.getTime()).toBe(Date.UTC(1999, 11, 31, 23, 59, 59));
  });

  it.each([undefined, '', '2024-01-02T03:04:05Z', '20240102T030405', '20240102030405Z', '20240102T0304Z', 'x20240102T030405Z', '20240102T030405Zx'])(
    'refuses the malformed value %s',
    (value) => {
      expect(parseAmzDate(value)).toBeUndefined();
    },
  );

  // The Number.isNaN check in parseAmzDate never fires: Date.UTC rolls 2024-13-45 over into 2025.
  it('refuses impossible calendar dates and times', () => {
    for (const value of ['20241345T000000Z', '20240230T000000Z', '20240102T250000Z', '20240102T006100Z']) {
      expect(parseAmzDate(value), value).toBeUndefined();
    }
  });
});

describe('signatureMatches against botocore', () => {
  const s3Get: BotocoreRequest = {
    method: 'GET',
    url: 'https://bucket.s3.us-east-1.amazonaws.com/reports/my%20key%2Bv1.txt?response-content-type=text%2Fplain&versionId=abc',
    headers: {},
    body: '',
    service: 's3',
    region: 'us-east-1',
  };

  const stsPost: BotocoreRequest = {
    method: 'POST',
    url: 'https://sts.us-east-1.amazonaws.com/',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: 'Action=GetCallerIdentity&Version=2011-06-15',
    service: 'sts',
    region: 'us-east-1',
  };

  it('verifies an S3 GET whose key has a space and a plus (path encoded once)', async () => {
    const signed = signedByBotocore(s3Get);
    expect(signed['x-amz-date']).toBe(AMZ_DATE);
    const { request, authorization } = asReceived(s3Get, signed);
    const auth = parseAuthorization(authorization);
    expect(auth.signedHeaders).toEqual(['host', 'x-amz-content-sha256', 'x-amz-date']);
    expect(await signatureMatches(request, auth, SECRET, SIGNING_DATE)).toBe(true);
  });

  it('refuses the S3 GET when the path, query, a signed header, the date or the secret changes', async () => {
    const { request, authorization } = asReceived(s3Get, signedByBotocore(s3Get));
    const auth = parseAuthorization(authorization);
    expect(await signatureMatches({ ...request, rawPath: request.rawPath.replace('%2B', '%2C') }, auth, SECRET, SIGNING_DATE)).toBe(false);
    expect(await signatureMatches({ ...request, rawPath: request.rawPath.replace('%20', '+') }, auth, SECRET, SIGNING_DATE)).toBe(false);
    expect(await signatureMatches({ ...request, query: parseQuery('response-content-type=text%2Fplain&versionId=abd') }, auth, SECRET, SIGNING_DATE)).toBe(false);
    expect(await signatureMatches({ ...request, headers: { ...request.headers, host: 'other.s3.us-east-1.amazonaws.com' } }, auth, SECRET, SIGNING_DATE)).toBe(false);
    expect(
      await signatureMatches({ ...request, headers: { ...request.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, auth, SECRET, SIGNING_DATE),
    ).toBe(false);
    expect(await signatureMatches(request, auth, SECRET, new Date(SIGNING_DATE.getTime() + 1000))).toBe(false);
    expect(await signatureMatches(request, auth, SECRET.replace('w', 'W'), SIGNING_DATE)).toBe(false);
  });

  it('verifies an S3 PUT with a literal + in the raw path and a hashed body', async () => {
    const spec: BotocoreRequest = {
      method: 'PUT',
      url: 'https://s3.us-west-2.amazonaws.com/bucket/a+b%20c%C3%A9.txt',
      headers: { 'Content-Type': 'text/plain', 'x-amz-meta-note': '  two  spaces  ' },
      body: 'hello world',
      service: 's3',
      region: 'us-west-2',
    };
    const signed = signedByBotocore(spec);
    expect(signed['x-amz-content-sha256']).toBe(sha256Hex(Buffer.from('hello world')));
    const { request, authorization } = asReceived(spec, signed);
    const auth = parseAuthorization(authorization);
    expect(auth.signedHeaders).toEqual(['content-type', 'host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-meta-note']);
    expect(await signatureMatches(request, auth, SECRET, SIGNING_DATE)).toBe(true);
    expect(await signatureMatches({ ...request, headers: { ...request.headers, 'content-type': 'text/html' } }, auth, SECRET, SIGNING_DATE)).toBe(false);
    expect(await signatureMatches({ ...request, rawPath: '/bucket/a%2Bb%20c%C3%A9.txt' }, auth, SECRET, SIGNING_DATE)).toBe(false);
  });

  it('verifies a query with a value-less key, repeated keys and encoded values', async () => {
    const spec: BotocoreRequest = {
      method: 'GET',
      url: 'https://s3.us-east-1.amazonaws.com/bucket?uploads&b=2&a=1&a=0&prefix=x%2Fy%20z&marker=%C3%A9',
      headers: {},
      body: '',
      service: 's3',
      region: 'us-east-1',
    };
    const { request, authorization } = asReceived(spec, signedByBotocore(spec));
    const auth = parseAuthorization(authorization);
    expect(await signatureMatches(request, auth, SECRET, SIGNING_DATE)).toBe(true);
    expect(await signatureMatches({ ...request, query: parseQuery('uploads&b=2&a=1&prefix=x%2Fy%20z&marker=%C3%A9') }, auth, SECRET, SIGNING_DATE)).toBe(false);
  });

  it('verifies an STS POST form body (signed by body hash)', async () => {
    const signed = signedByBotocore(stsPost);
    const { request, authorization } = asReceived(stsPost, signed);
    const auth = parseAuthorization(authorization);
    expect(auth).toMatchObject({ service: 'sts', region: 'us-east-1', signedHeaders: ['content-type', 'host', 'x-amz-date'] });
    expect(await signatureMatches(request, auth, SECRET, SIGNING_DATE)).toBe(true);
  });

  it('refuses the STS POST when one byte of the body, the path or a signed header changes', async () => {
    const { request, authorization } = asReceived(stsPost, signedByBotocore(stsPost));
    const auth = parseAuthorization(authorization);
    const body = Buffer.from(stsPost.body);
    body[body.length - 1] = 0x36; // ...2011-06-16
    expect(await signatureMatches({ ...request, body }, auth, SECRET, SIGNING_DATE)).toBe(false);
    expect(await signatureMatches({ ...request, rawPath: '/x' }, auth, SECRET, SIGNING_DATE)).toBe(false);
    expect(await signatureMatches({ ...request, headers: { ...request.headers, 'content-type': 'application/x-www-form-urlencoded' } }, auth, SECRET, SIGNING_DATE)).toBe(false);
    expect(await signatureMatches({ ...request, method: 'PUT' }, auth, SECRET, SIGNING_DATE)).toBe(false);
  });

  it('encodes non-S3 paths twice, as botocore does', async () => {
    const spec: BotocoreRequest = {
      method: 'POST',
      url: 'https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/my%20fn%2Bx/invocations',
      headers: { 'Content-Type': 'application/json' },
      body: '{"a":1}',
      service: 'lambda',
      region: 'us-east-1',
    };
    const { request, authorization } = asReceived(spec, signedByBotocore(spec));
    const auth = parseAuthorization(authorization);
    expect(await signatureMatches(request, auth, SECRET, SIGNING_DATE)).toBe(true);
    expect(await signatureMatches({ ...request, rawPath: '/2015-03-31/functions/my%20fn+x/invocations' }, auth, SECRET, SIGNING_DATE)).toBe(false);
  });
});

describe('signRequest agrees with botocore', () => {
  const credentials = { accessKeyId: 'ASIAEXAMPLEEXAMPLE12', secretAccessKey: 'minted/secret+key', sessionToken: 'FwoGZXIvYXdzE//token+with/slashes==' };
  const minted = { accessKey: credentials.accessKeyId, secretKey: credentials.secretAccessKey, token: credentials.sessionToken };

  it('signs an S3 PUT the way botocore does', async () => {
    const body = Buffer.from('payload bytes');
    const headers = {
      host: 'bucket.s3.us-west-2.amazonaws.com',
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
      'x-amz-acl': 'private',
    };
    const ours = await signRequest(
      { method: 'PUT', host: headers.host, rawPath: '/dir/a%20b%2Bc.txt', query: {}, headers, body },
      credentials,
      'us-west-2',
      's3',
      SIGNING_DATE,
    );
    expect(ours['x-amz-date']).toBe(AMZ_DATE);
    expect(ours['x-amz-security-token']).toBe(credentials.sessionToken);
    expect(signedHeadersOf(ours.authorization)).toBe('content-length;content-type;host;x-amz-acl;x-amz-content-sha256;x-amz-date;x-amz-security-token');

    const rest = Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'host'));
    const [botocore = {}] = botocoreSign(
      [{ method: 'PUT', url: `https://${headers.host}/dir/a%20b%2Bc.txt`, headers: rest, body: body.toString('utf8'), service: 's3', region: 'us-west-2' }],
      minted,
    );
    expect(signedHeadersOf(botocore.authorization)).toBe(signedHeadersOf(ours.authorization));
    expect(signatureOf(ours.authorization)).toBe(signatureOf(botocore.authorization));
    expect(ours.authorization).toBe(botocore.authorization);
  });

  it('signs an STS POST the way botocore does', async () => {
    const body = Buffer.from('Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=s&Version=2011-06-15');
    const headers = { host: 'sts.us-east-1.amazonaws.com', 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
    const ours = await signRequest({ method: 'POST', host: headers.host, rawPath: '/', query: {}, headers, body }, credentials, 'us-east-1', 'sts', SIGNING_DATE);
    expect(ours['x-amz-content-sha256']).toBeUndefined();
    const [theirs = {}] = botocoreSign([{ method: 'POST', url: 'https://sts.us-east-1.amazonaws.com/', headers: { 'content-type': headers['content-type'] }, body: body.toString('utf8'), service: 'sts', region: 'us-east-1' }], minted);
    expect(ours.authorization).toBe(theirs.authorization);
  });

  it('signs query parameters the way botocore does', async () => {
    const emptyHash = sha256Hex(Buffer.alloc(0));
    const headers = { host: 's3.us-east-1.amazonaws.com', 'x-amz-content-sha256': emptyHash };
    const rawQuery = 'list-type=2&prefix=a%20b%2Bc%2F%C3%A9&delimiter=%2F&start-after=x%2Ay';
    const ours = await signRequest({ method: 'GET', host: headers.host, rawPath: '/bucket', query: parseQuery(rawQuery), headers }, credentials, 'us-east-1', 's3', SIGNING_DATE);
    const [theirs = {}] = botocoreSign([{ method: 'GET', url: `https://${headers.host}/bucket?${rawQuery}`, headers: {}, body: '', service: 's3', region: 'us-east-1' }], minted);
    expect(theirs['x-amz-content-sha256']).toBe(emptyHash);
    expect(ours.authorization).toBe(theirs.authorization);
  });
});

describe('sha256Hex', () => {
  it('hashes bytes to lower-case hex', () => {
    expect(sha256Hex(Buffer.alloc(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
