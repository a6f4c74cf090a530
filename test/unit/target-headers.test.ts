import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { forwardableRequestHeaders, forwardableResponseHead, signedHeaderValues } from '../../src/forward/headers.js';
import { chooseTarget, type TargetInput } from '../../src/forward/target.js';

describe('forwardableRequestHeaders', () => {
  const incoming: IncomingHttpHeaders = {
    host: 'bucket.s3.amazonaws.com',
    authorization: 'AWS4-HMAC-SHA256 Credential=CSAK...',
    'x-amz-security-token': 'agent-token',
    'x-amz-date': '20240102T030405Z',
    'proxy-authorization': 'Basic eDp5',
    'proxy-connection': 'keep-alive',
    connection: 'keep-alive, X-Hop-One,x-hop-two',
    'keep-alive': 'timeout=5',
    'x-hop-one': '1',
    'x-hop-two': '2',
    'transfer-encoding': 'chunked',
    expect: '100-continue',
    te: 'trailers',
    trailer: 'x-amz-checksum-crc32',
    upgrade: 'h2c',
    'x-countersign-agent': 'spoofed',
    'x-countersign-request-id': 'spoofed',
    'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    'content-length': '11',
    'content-type': 'text/plain',
    'content-md5': 'XrY7u+Ae7tCTyyK7j1rNww==',
    'x-amz-acl': 'private',
    'x-amz-meta-owner': 'reports',
    'user-agent': 'aws-sdk-js/3',
    'x-multi': ['a', 'b'],
  };

  it('keeps end-to-end headers and drops hop-by-hop, agent auth and countersign headers and Content-Length (signed as undici writes it)', () => {
    expect(forwardableRequestHeaders(incoming)).toEqual({
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      'content-type': 'text/plain',
      'content-md5': 'XrY7u+Ae7tCTyyK7j1rNww==',
      'x-amz-acl': 'private',
      'x-amz-meta-owner': 'reports',
      'user-agent': 'aws-sdk-js/3',
      'x-multi': 'a,b',
    });
  });

  it.each(['authorization', 'x-amz-security-token', 'x-amz-date', 'proxy-authorization', 'connection', 'x-hop-one', 'x-hop-two', 'transfer-encoding', 'expect', 'host', 'x-countersign-agent', 'content-length'])(
    'drops %s',
    (name) => {
      expect(Object.keys(forwardableRequestHeaders(incoming))).not.toContain(name);
    },
  );

  it('keeps headers when no connection header names them', () => {
    expect(forwardableRequestHeaders({ 'x-hop-one': '1', 'content-type': 'a' })).toEqual({ 'x-hop-one': '1', 'content-type': 'a' });
  });
});

describe('forwardableResponseHead', () => {
  const raw = (...pairs: string[]) => pairs.map((p) => Buffer.from(p, 'latin1'));

  it('drops hop-by-hop headers and keeps the rest, repeated ones included, then adds the request id', () => {
    expect(
      forwardableResponseHead(
        raw(
          'Connection', 'close, x-hop',
          'x-hop', '1',
          'Keep-Alive', 'timeout=5',
          'Transfer-Encoding', 'chunked',
          'Content-Type', 'application/xml',
          'Content-Length', '42',
          'x-amz-request-id', 'abc',
          'ETag', '"e"',
          'Set-Cookie', 'a=1',
          'Set-Cookie', 'b=2',
          'x-countersign-request-id', 'forged',
        ),
        'req-1',
      ),
    ).toEqual([
      'content-type', 'application/xml',
      'content-length', '42',
      'x-amz-request-id', 'abc',
      'etag', '"e"',
      'set-cookie', 'a=1',
      'set-cookie', 'b=2',
      'x-countersign-request-id', 'req-1',
    ]);
  });
});

describe('signedHeaderValues', () => {
  it('returns the values of the signed headers', () => {
    expect(signedHeaderValues({ host: 'h', 'x-amz-date': 'd', other: 'o', 'x-multi': ['a', 'b'] }, ['host', 'x-amz-date', 'x-multi'])).toEqual({
      values: { host: 'h', 'x-amz-date': 'd', 'x-multi': 'a,b' },
    });
  });

  it('names the first signed header that is missing', () => {
    expect(signedHeaderValues({ host: 'h' }, ['host', 'x-amz-date', 'x-amz-content-sha256'])).toEqual({ values: { host: 'h' }, missing: 'x-amz-date' });
  });
});

describe('chooseTarget', () => {
  const intercepted = (authority: string, rawPath: string, service = 's3', region = 'us-west-2'): TargetInput => ({
    mode: 'intercept',
    scheme: 'https',
    authority,
    host: authority.replace(/:\d+$/, ''),
    rawPath,
    service,
    endpointPrefix: service,
    region,
  });
  const none = new Map<string, URL>();

  it('moves a virtual-hosted bucket into the path of an override and uses its host', () => {
    const overrides = new Map([['s3', new URL('http://127.0.0.1:4566')]]);
    expect(chooseTarget(intercepted('bucket.s3.us-west-2.amazonaws.com', '/dir/a%20b.txt'), overrides)).toEqual({
      origin: 'http://127.0.0.1:4566',
      host: '127.0.0.1:4566',
      rawPath: '/bucket/dir/a%20b.txt',
    });
    expect(chooseTarget(intercepted('my.dotted.bucket.s3.amazonaws.com', '/'), overrides)).toEqual({
      origin: 'http://127.0.0.1:4566',
      host: '127.0.0.1:4566',
      rawPath: '/my.dotted.bucket',
    });
  });

  it('leaves path-style requests in place under an override', () => {
    const overrides = new Map([['s3', new URL('http://127.0.0.1:4566')]]);
    expect(chooseTarget(intercepted('s3.us-west-2.amazonaws.com', '/bucket/key'), overrides)).toEqual({
      origin: 'http://127.0.0.1:4566',
      host: '127.0.0.1:4566',
      rawPath: '/bucket/key',
    });
  });

  it('prefixes the path of an override URL', () => {
    const overrides = new Map([['s3', new URL('https://gateway.example/s3/')]]);
    expect(chooseTarget(intercepted('bucket.s3.amazonaws.com', '/key'), overrides)).toEqual({
      origin: 'https://gateway.example',
      host: 'gateway.example',
      rawPath: '/s3/bucket/key',
    });
  });

  it('uses a service override before the * override', () => {
    const overrides = new Map([
      ['*', new URL('https://everything.example')],
      ['sts', new URL('http://sts.local:9000')],
    ]);
    expect(chooseTarget(intercepted('sts.us-east-1.amazonaws.com', '/', 'sts', 'us-east-1'), overrides)).toEqual({ origin: 'http://sts.local:9000', host: 'sts.local:9000', rawPath: '/' });
    expect(chooseTarget(intercepted('dynamodb.us-east-1.amazonaws.com', '/', 'dynamodb', 'us-east-1'), overrides)).toEqual({
      origin: 'https://everything.example',
      host: 'everything.example',
      rawPath: '/',
    });
  });

  it('moves buckets only for S3', () => {
    const overrides = new Map([['*', new URL('http://127.0.0.1:1')]]);
    expect(chooseTarget(intercepted('bucket.s3.amazonaws.com', '/x', 'sts', 'us-east-1'), overrides).rawPath).toBe('/x');
  });

  it('sends endpoint-mode requests to the public endpoint of the signed service and region', () => {
    const endpoint = (service: string, region: string, rawPath: string): TargetInput => ({
      mode: 'endpoint',
      scheme: 'http',
      authority: '127.0.0.1:8080',
      host: '127.0.0.1',
      rawPath,
      service,
      endpointPrefix: service === 'bedrock' ? 'bedrock-runtime' : service,
      region,
    });
    expect(chooseTarget(endpoint('s3', 'us-west-2', '/bucket/key'), none)).toEqual({
      origin: 'https://s3.us-west-2.amazonaws.com',
      host: 's3.us-west-2.amazonaws.com',
      rawPath: '/bucket/key',
    });
    expect(chooseTarget(endpoint('iam', 'us-east-1', '/'), none)).toEqual({ origin: 'https://iam.amazonaws.com', host: 'iam.amazonaws.com', rawPath: '/' });
    // Bedrock Runtime signs as bedrock; its model names the host.
    expect(chooseTarget(endpoint('bedrock', 'us-west-2', '/model/m/converse'), none).host).toBe('bedrock-runtime.us-west-2.amazonaws.com');
    expect(chooseTarget(endpoint('dynamodb', 'cn-north-1', '/'), none)).toEqual({
      origin: 'https://dynamodb.cn-north-1.amazonaws.com.cn',
      host: 'dynamodb.cn-north-1.amazonaws.com.cn',
      rawPath: '/',
    });
  });

  it('keeps the authority of intercepted and absolute-URI requests', () => {
    expect(chooseTarget(intercepted('bucket.s3.us-west-2.amazonaws.com', '/key'), none)).toEqual({
      origin: 'https://bucket.s3.us-west-2.amazonaws.com',
      host: 'bucket.s3.us-west-2.amazonaws.com',
      rawPath: '/key',
    });
    expect(chooseTarget({ ...intercepted('sts.amazonaws.com:8443', '/', 'sts', 'us-east-1'), mode: 'absolute', scheme: 'http' }, none)).toEqual({
      origin: 'http://sts.amazonaws.com:8443',
      host: 'sts.amazonaws.com:8443',
      rawPath: '/',
    });
  });
});
