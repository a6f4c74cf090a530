// Where countersign and AWS could read one request two ways, beyond the parameters themselves:
// compressed bodies and dot segments that SigV4 resolves.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { dotSegment } from '../../src/aws/dot-segments.js';
import { bodyForReading } from '../../src/aws/request-compression.js';
import { refusal } from '../support/refusal.js';

const form = 'Action=GetRole&Version=2010-05-08&RoleName=admin';

describe('a compressed body is decided on what AWS decompresses, not on its compressed bytes', () => {
  it('decompresses a gzip query or JSON body for classification', () => {
    expect(bodyForReading(gzipSync(form), { 'content-encoding': 'gzip' }, 'query', 1 << 20).toString()).toBe(form);
    expect(bodyForReading(gzipSync('{"a":1}'), { 'content-encoding': 'GZIP', 'x-amz-target': 'X.Y' }, 'json', 1 << 20).toString()).toBe('{"a":1}');
  });

  it('leaves REST bodies alone: there Content-Encoding describes the payload (an S3 object stored gzipped)', () => {
    const object = gzipSync('payload');
    expect(bodyForReading(object, { 'content-encoding': 'gzip' }, 'rest-xml', 1 << 20)).toBe(object);
  });

  it('refuses an encoding it cannot read, a body that is not gzip, and a gzip bomb', () => {
    expect(refusal(() => bodyForReading(Buffer.from(form), { 'content-encoding': 'br' }, 'query', 1 << 20)).code).toBe('MalformedRequestBody');
    expect(refusal(() => bodyForReading(Buffer.from(form), { 'content-encoding': 'gzip' }, 'query', 1 << 20)).code).toBe('MalformedRequestBody');
    expect(refusal(() => bodyForReading(gzipSync(Buffer.alloc(10 << 20)), { 'content-encoding': 'gzip' }, 'query', 1 << 20)).code).toBe('RequestTooLarge');
  });
});

describe('dot segments outside S3 (SigV4 resolves them before signing, countersign classifies as sent)', () => {
  it.each(['/2015-03-31/functions/ok/../admin/invocations', '/a/./b', '/a/%2e%2E/b', '/a/.%2e', '/..'])('finds the dot segment in %s', (path) => {
    expect(dotSegment(path)).toBeDefined();
  });
  it.each(['/2015-03-31/functions/ok/invocations', '/a/...', '/a/.b', '/a/b.', '/'])('passes %s', (path) => {
    expect(dotSegment(path)).toBeUndefined();
  });
});
