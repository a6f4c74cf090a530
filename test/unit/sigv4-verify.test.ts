import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import { parseQuery } from '../../src/aws/query-string.js';
import { signatureMatches, type SigV4Authorization, type SignableRequest } from '../../src/aws/sigv4.js';
import { amzDate, canonicalQuery, canonicalUri, expectedSignature, verifySignature } from '../../src/aws/sigv4-verify.js';
import { asReceived, botocoreSign, SIGNING_DATE, type BotocoreRequest } from '../support/botocore-signer.js';

/**
 * The synchronous verifier (src/aws/sigv4-verify.ts) must accept exactly what smithy's signer
 * would have produced. Checked three ways: against smithy itself on generated requests (the
 * implementation countersign used to verify with), against botocore-made signatures, and on
 * the AWS SigV4 documentation's canonical forms.
 */

class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as Uint8Array));
  }
  update(data: SourceData): void {
    this.hash.update(typeof data === 'string' ? data : Buffer.from(data as Uint8Array));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }
}

/** The reference: what smithy signs for this request with these signed headers. */
async function smithySignature(request: SignableRequest, auth: SigV4Authorization, secret: string, signingDate: Date): Promise<string> {
  const signer = new SignatureV4({
    credentials: { accessKeyId: auth.accessKeyId, secretAccessKey: secret },
    region: auth.region,
    service: auth.service,
    sha256: Sha256,
    uriEscapePath: auth.service !== 's3',
    applyChecksum: false,
  });
  const signed = await signer.sign(
    { method: request.method, protocol: 'https:', hostname: request.host, path: request.rawPath, query: { ...request.query }, headers: { ...request.headers }, body: request.body },
    { signingDate, signableHeaders: new Set(auth.signedHeaders) },
  );
  return /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] ?? '';
}

/** A small seeded PRNG (mulberry32), so a failure names a reproducible case. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEGMENTS = ['a', 'reports', 'my%20key', 'a+b', '%2B', '%25', '100%25', 'caf%C3%A9', 'x=y', '.', '..', '', '~t', "it's", '(p)', '*', '!', '%2F', 'A-Z_0.9', 'é', 'sp ace'];
const QUERY_PARTS = ['list-type=2', 'prefix=a%20b%2Bc', 'prefix=z', 'delimiter=%2F', 'x', 'empty=', 'k%3Dv=1%3D2', 'uni=%C3%A9', 'plus=a+b', 'star=%2A', 'tilde=~', 'versionId=3', 'versionId=1', 'A=b', 'a=B', 'X-Amz-Signature=abc'];
const HEADER_VALUES = ['text/plain', '  two  spaces  ', 'tab\tinside', 'a,b', ' lead', 'trail ', 'multi\n line', '', 'é'];

function generated(random: () => number, index: number): { request: SignableRequest; auth: SigV4Authorization; secret: string; date: Date } {
  const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const service = pick(['s3', 's3', 'sts', 'dynamodb', 'lambda', 'execute-api']);
  const segments = Array.from({ length: Math.floor(random() * 5) }, () => pick(SEGMENTS));
  const rawPath = `/${segments.join('/')}${random() < 0.3 ? '/' : ''}`;
  const rawQuery = Array.from({ length: Math.floor(random() * 5) }, () => pick(QUERY_PARTS)).join('&');
  const date = new Date(Date.UTC(2000 + Math.floor(random() * 30), 0, 1) + Math.floor(random() * 365 * 86_400) * 1000);
  const headers: Record<string, string> = { host: pick(['bucket.s3.us-east-1.amazonaws.com', 'sts.amazonaws.com', 'localhost:4566']), 'x-amz-date': amzDate(date) };
  for (const name of ['content-type', 'x-amz-meta-note', 'user-agent', 'date', 'authorization', 'proxy-x', 'sec-y', 'x-amz-target', 'x-amz-content-sha256']) {
    if (random() < 0.35) headers[name] = name === 'x-amz-content-sha256' ? pick(['UNSIGNED-PAYLOAD', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']) : pick(HEADER_VALUES);
  }
  const signedHeaders = Object.keys(headers).sort();
  // Sometimes SignedHeaders omits an unsignable header the request carries: smithy then leaves it out.
  if (random() < 0.2 && headers['user-agent'] !== undefined) signedHeaders.splice(signedHeaders.indexOf('user-agent'), 1);
  const body = random() < 0.5 ? undefined : Buffer.from(`{"case":${index},"text":"${pick(HEADER_VALUES)}"}`);
  const auth: SigV4Authorization = {
    accessKeyId: 'CSAKGENERATED',
    date: amzDate(date).slice(0, 8),
    region: pick(['us-east-1', 'eu-west-3', 'cn-north-1']),
    service,
    signedHeaders,
    signature: '0'.repeat(64),
  };
  const request: SignableRequest = { method: pick(['GET', 'PUT', 'POST', 'HEAD', 'DELETE']), host: headers.host ?? '', rawPath, query: parseQuery(rawQuery), headers, ...(body !== undefined && { body }) };
  return { request, auth, secret: pick(['secret', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', `s${index}`]), date };
}

describe('expectedSignature agrees with smithy', () => {
  it('on 600 generated requests (paths, queries, header whitespace, bodies, services)', async () => {
    const random = prng(20240102);
    for (let i = 0; i < 600; i++) {
      const { request, auth, secret, date } = generated(random, i);
      const ours = expectedSignature(request, auth, secret, date);
      expect(ours, `case ${i}: ${request.method} ${auth.service} ${request.rawPath} ${JSON.stringify(request.query)} ${JSON.stringify(request.headers)}`).toBe(
        await smithySignature(request, auth, secret, date),
      );
    }
  });

  it('verifies what smithy signed and refuses any other signature, in constant-time compare', async () => {
    const { request, auth, secret, date } = generated(prng(7), 0);
    const good = { ...auth, signature: await smithySignature(request, auth, secret, date) };
    expect(verifySignature(request, good, secret, date)).toBe(true);
    expect(await signatureMatches(request, good, secret, date)).toBe(true);
    const flipped = `${good.signature.slice(0, 63)}${good.signature.endsWith('0') ? '1' : '0'}`;
    expect(verifySignature(request, { ...good, signature: flipped }, secret, date)).toBe(false);
    expect(verifySignature(request, { ...good, signature: good.signature.slice(1) }, secret, date)).toBe(false);
    expect(verifySignature(request, good, `${secret}x`, date)).toBe(false);
    expect(verifySignature(request, good, secret, new Date(date.getTime() + 1000))).toBe(false);
    expect(verifySignature(request, { ...good, region: 'us-west-2' }, secret, date)).toBe(false);
  });

  it('keeps signing keys apart by secret, date, region and service (cached keys)', () => {
    const { request, auth, date } = generated(prng(11), 1);
    const base = expectedSignature(request, auth, 'one', date);
    expect(expectedSignature(request, auth, 'one', date)).toBe(base);
    expect(expectedSignature(request, auth, 'two', date)).not.toBe(base);
    expect(expectedSignature(request, { ...auth, region: 'ap-south-1' }, 'one', date)).not.toBe(base);
    expect(expectedSignature(request, { ...auth, service: auth.service === 'sts' ? 'iam' : 'sts' }, 'one', date)).not.toBe(base);
    expect(expectedSignature(request, auth, 'one', new Date(date.getTime() + 86_400_000))).not.toBe(base);
  });
});

describe('canonical forms (AWS SigV4 documentation)', () => {
  it('encodes S3 paths once and other paths twice, normalising dot and empty segments', () => {
    expect(canonicalUri('/my%20key/a+b', 's3')).toBe('/my%20key/a+b');
    expect(canonicalUri('/a/./b/../c//d/', 's3')).toBe('/a/./b/../c//d/');
    expect(canonicalUri('/my%20key/a+b', 'lambda')).toBe('/my%2520key/a%2Bb');
    expect(canonicalUri('/a/./b/../c//d/', 'lambda')).toBe('/a/c/d/');
    expect(canonicalUri('/', 'sts')).toBe('/');
    expect(canonicalUri('//', 'sts')).toBe('/');
    expect(canonicalUri('', 'sts')).toBe('');
    expect(canonicalUri("/it's(*)!~", 'lambda')).toBe('/it%27s%28%2A%29%21~');
  });

  it('sorts the query by encoded key, then value, RFC 3986-encoded', () => {
    expect(canonicalQuery(parseQuery('b=2&a=3&a=1&c'))).toBe('a=1&a=3&b=2&c=');
    expect(canonicalQuery(parseQuery('prefix=a%20b%2Bc&plus=a+b&star=*&tilde=~'))).toBe('plus=a%2Bb&prefix=a%20b%2Bc&star=%2A&tilde=~');
    // Upper-case letters sort before lower-case ones (byte order).
    expect(canonicalQuery(parseQuery('a=1&B=2&_=3'))).toBe('B=2&_=3&a=1');
    expect(canonicalQuery(parseQuery('X-Amz-Signature=abc&x=1'))).toBe('x=1');
    expect(canonicalQuery({})).toBe('');
    expect(canonicalQuery({ a: '1', b: [], c: '2' })).toBe('a=1&c=2');
  });

  it('formats signing dates as smithy does', () => {
    expect(amzDate(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)))).toBe('20240102T030405Z');
    expect(amzDate(new Date(Date.UTC(999, 11, 31, 23, 59, 59)))).toBe('09991231T235959Z');
    expect(amzDate(new Date(Date.UTC(12345, 0, 1)))).toBe('+0123450101T000000Z');
    expect(() => amzDate(new Date(NaN))).toThrow(RangeError);
  });
});

interface BotocoreCase extends BotocoreRequest {
  readonly name: string;
}

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

const s3Get = (name: string, path: string, query = ''): BotocoreCase => ({
  name,
  method: 'GET',
  url: `https://bucket.s3.us-east-1.amazonaws.com${path}${query === '' ? '' : `?${query}`}`,
  headers: {},
  body: '',
  service: 's3',
  region: 'us-east-1',
});

const CASES: BotocoreCase[] = [
  s3Get('an S3 key with spaces', '/reports/my%20annual%20report.pdf'),
  s3Get("an S3 key with '+'", '/a%2Bb/c%2B%2Bd'),
  s3Get("an S3 key with a literal '+' in the raw path", '/a+b'),
  s3Get("an S3 key with '%'", '/100%25/done%25'),
  s3Get('an S3 key with unicode', '/caf%C3%A9/%E6%97%A5%E6%9C%AC/%F0%9F%98%80'),
  s3Get("an S3 key with '='", '/k%3Dv/a=b'),
  s3Get('an S3 key with reserved characters', "/%21%27%28%29%2A/~tilde/it's"),
  s3Get('an S3 listing query', '/', 'list-type=2&prefix=a%20b%2Bc%2F%C3%A9&delimiter=%2F&start-after=x%2Ay&encoding-type=url'),
  s3Get('an S3 query with repeated and empty keys', '/key', 'b=2&a=2&a=1&acl='),
  // smithy's canonical query garbles this key (it builds it in a plain object); botocore and the verifier do not.
  s3Get('a query key named __proto__', '/key', '__proto__=x&a=1'),
  {
    name: 'an S3 PUT with a hashed body and spaced header values',
    method: 'PUT',
    url: 'https://s3.eu-west-3.amazonaws.com/bucket/a%20b.txt',
    headers: { 'Content-Type': 'text/plain', 'x-amz-meta-note': '  two  spaces  and\ttab ' },
    body: 'hello world',
    service: 's3',
    region: 'eu-west-3',
  },
  {
    name: 'an STS form body',
    method: 'POST',
    url: 'https://sts.us-east-1.amazonaws.com/',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: 'Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=s+1&Version=2011-06-15',
    service: 'sts',
    region: 'us-east-1',
  },
  {
    name: 'a DynamoDB JSON body',
    method: 'POST',
    url: 'https://dynamodb.eu-west-3.amazonaws.com/',
    headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'DynamoDB_20120810.GetItem' },
    body: '{"TableName":"orders","Key":{"id":{"S":"a b+c/é"}}}',
    service: 'dynamodb',
    region: 'eu-west-3',
  },
  {
    name: 'a non-S3 path (encoded twice)',
    method: 'POST',
    url: 'https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/my%20fn%2Bx%3D1/invocations',
    headers: { 'Content-Type': 'application/json' },
    body: '{"a":1}',
    service: 'lambda',
    region: 'us-east-1',
  },
];

describe('verifySignature against botocore', () => {
  const signed = botocoreSign(CASES, { accessKey: 'CSAKABCDEFGHIJKLMNOP', secretKey: SECRET });

  it.each(CASES.map((c, i) => [c.name, i] as const))('verifies %s', (_name, i) => {
    const { request, auth } = asReceived(CASES[i] as BotocoreCase, signed[i] ?? {});
    expect(verifySignature(request, auth, SECRET, SIGNING_DATE)).toBe(true);
  });

  it.each(CASES.map((c, i) => [c.name, i] as const))('refuses %s once one byte of it changes', (_name, i) => {
    const { request, auth } = asReceived(CASES[i] as BotocoreCase, signed[i] ?? {});
    const body = Buffer.from(request.body ?? Buffer.alloc(0));
    const hashedBody = request.headers['x-amz-content-sha256'] === undefined;
    if (hashedBody && body.length > 0) {
      body[0] = (body[0] ?? 0) ^ 1;
      expect(verifySignature({ ...request, body }, auth, SECRET, SIGNING_DATE)).toBe(false);
    }
    expect(verifySignature({ ...request, rawPath: `${request.rawPath}x` }, auth, SECRET, SIGNING_DATE)).toBe(false);
    expect(verifySignature({ ...request, method: request.method === 'GET' ? 'HEAD' : 'GET' }, auth, SECRET, SIGNING_DATE)).toBe(false);
    expect(verifySignature({ ...request, query: { ...request.query, extra: '' } }, auth, SECRET, SIGNING_DATE)).toBe(false);
    expect(verifySignature({ ...request, headers: { ...request.headers, host: `x${request.headers.host ?? ''}` } }, auth, SECRET, SIGNING_DATE)).toBe(false);
  });
});
