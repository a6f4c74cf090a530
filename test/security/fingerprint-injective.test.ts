// The fingerprint an approval is bound to is an injective encoding of the request (issue 11):
// the collision that let `?Q=x%26RoleName%3Dadmin&RoleName=harmless` ride an approval of
// `?Q=x&RoleName=admin&RoleName=harmless`, then a seeded property test over random requests.
import { describe, expect, it } from 'vitest';
import { sameBinding } from '../../src/approvals/binding.js';
import { fingerprint, UNBOUND_HEADERS, type FingerprintInput } from '../../src/approvals/fingerprint.js';
import type { ApprovalBinding } from '../../src/approvals/types.js';

const base: FingerprintInput = {
  agent: 'bot',
  service: 'iam',
  region: 'us-east-1',
  method: 'GET',
  host: 'iam.amazonaws.com',
  rawPath: '/',
  rawQuery: 'Action=DeleteRole&Version=2010-05-08',
  rawHeaders: ['Content-Type', 'text/plain'],
  bodySha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
};

describe('fingerprint', () => {
  it('a decoded & or = inside a query value cannot move the boundaries (query-string collision)', () => {
    const seen = fingerprint({ ...base, rawQuery: 'Action=DeleteRole&Q=x%26RoleName%3Dadmin&RoleName=harmless' });
    const smuggled = fingerprint({ ...base, rawQuery: 'Action=DeleteRole&Q=x&RoleName=admin&RoleName=harmless' });
    expect(smuggled).not.toBe(seen);
  });

  it('a newline or colon inside a header value cannot forge another header line', () => {
    const one = fingerprint({ ...base, rawHeaders: ['x-amz-meta-a', 'b\nx-amz-acl:public-read'] });
    const two = fingerprint({ ...base, rawHeaders: ['x-amz-meta-a', 'b', 'x-amz-acl', 'public-read'] });
    expect(one).not.toBe(two);
  });

  it('binds the credential scope: the same bytes signed for another region or service differ', () => {
    expect(fingerprint({ ...base, region: 'eu-west-1' })).not.toBe(fingerprint(base));
    expect(fingerprint({ ...base, service: 'sts' })).not.toBe(fingerprint(base));
  });

  it('binds headers by what was sent, not by an allow-list: Content-Language counts', () => {
    expect(fingerprint({ ...base, rawHeaders: [...base.rawHeaders, 'Content-Language', 'de'] })).not.toBe(fingerprint(base));
  });

  it('is the same for the same request whatever the header order, and whatever the signature, date and SDK bookkeeping', () => {
    const a = fingerprint({ ...base, rawHeaders: ['A', '1', 'B', '2', 'Authorization', 'x', 'X-Amz-Date', '1', 'amz-sdk-invocation-id', 'i1'] });
    const b = fingerprint({ ...base, rawHeaders: ['b', '2', 'Amz-Sdk-Invocation-Id', 'i2', 'a', '1', 'authorization', 'y', 'x-amz-date', '2'] });
    expect(a).toBe(b);
  });

  it('keeps repeated headers in their order (they are one list to the server)', () => {
    expect(fingerprint({ ...base, rawHeaders: ['x-a', '1', 'x-a', '2'] })).not.toBe(fingerprint({ ...base, rawHeaders: ['x-a', '2', 'x-a', '1'] }));
  });
});

/** A small seeded PRNG (mulberry32), so a failure is reproducible from its seed. */
function prng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

// Characters chosen to collide under naive encodings: separators, encodings of them, newlines, NUL.
const ALPHABET = ['a', 'b', '&', '=', '%26', '%3D', ':', '\n', '\0', '/', '%2F', ' ', '+', ',', 'é', '1'];

function text(rand: () => number, max = 6): string {
  let out = '';
  const length = Math.floor(rand() * max);
  for (let i = 0; i < length; i++) out += ALPHABET[Math.floor(rand() * ALPHABET.length)] ?? '';
  return out;
}

function randomRequest(rand: () => number): FingerprintInput {
  const headers: string[] = [];
  for (let i = Math.floor(rand() * 4); i > 0; i--) headers.push(`x-h${Math.floor(rand() * 3)}`, text(rand));
  return {
    agent: `bot${text(rand, 2)}`,
    service: rand() < 0.5 ? 's3' : 'dynamodb',
    region: rand() < 0.5 ? 'us-east-1' : 'eu-west-1',
    method: rand() < 0.5 ? 'GET' : 'PUT',
    host: `h${text(rand, 3)}.example`,
    rawPath: `/${text(rand)}`,
    rawQuery: text(rand),
    rawHeaders: headers,
    bodySha256: text(rand, 4),
  };
}

type Mutation = (input: FingerprintInput, rand: () => number) => FingerprintInput;

/** Each changes one meaningful component (or returns the input unchanged when it cannot). */
const MUTATIONS: Record<string, Mutation> = {
  agent: (r, rand) => ({ ...r, agent: r.agent + text(rand, 3) }),
  service: (r) => ({ ...r, service: r.service === 's3' ? 'dynamodb' : 's3' }),
  region: (r) => ({ ...r, region: r.region === 'us-east-1' ? 'eu-west-1' : 'us-east-1' }),
  method: (r) => ({ ...r, method: r.method === 'GET' ? 'PUT' : 'GET' }),
  host: (r, rand) => ({ ...r, host: `x${text(rand, 3)}${r.host}` }),
  path: (r, rand) => ({ ...r, rawPath: r.rawPath + text(rand, 3) }),
  query: (r, rand) => ({ ...r, rawQuery: r.rawQuery + text(rand, 3) }),
  'query split': (r, rand) => ({ ...r, rawQuery: `${text(rand, 3)}&${r.rawQuery}` }),
  'header added': (r, rand) => ({ ...r, rawHeaders: [...r.rawHeaders, `x-new${text(rand, 2)}`, text(rand)] }),
  'header value': (r, rand) => (r.rawHeaders.length === 0 ? r : { ...r, rawHeaders: [...r.rawHeaders.slice(0, -1), `${r.rawHeaders.at(-1) ?? ''}${text(rand, 3)}`] }),
  'query moved to a header': (r) => ({ ...r, rawQuery: '', rawHeaders: [...r.rawHeaders, 'x-q', r.rawQuery] }),
  body: (r, rand) => ({ ...r, bodySha256: r.bodySha256 + text(rand, 3) }),
  // The same bytes with a boundary moved: what a naive concatenation cannot tell apart.
  'boundary path|query': (r) => shift(r, 'rawPath', 'rawQuery'),
  'boundary query|path': (r) => shiftBack(r, 'rawPath', 'rawQuery'),
  'boundary host|path': (r) => shift(r, 'host', 'rawPath'),
  'boundary query|body': (r) => shift(r, 'rawQuery', 'bodySha256'),
  'boundary header name|value': (r) => (r.rawHeaders.length < 2 ? r : { ...r, rawHeaders: [`${r.rawHeaders[0] ?? ''}a`, r.rawHeaders[1] ?? '', ...r.rawHeaders.slice(2)] }),
  'boundary header value|name': (r) => (r.rawHeaders.length < 4 ? r : { ...r, rawHeaders: [r.rawHeaders[0] ?? '', `${r.rawHeaders[1] ?? ''}x`, `${r.rawHeaders[2] ?? ''}`.slice(1) || 'x', ...r.rawHeaders.slice(3)] }),
};

type TextField = 'host' | 'rawPath' | 'rawQuery' | 'bodySha256';

/** Moves the last character of one field to the front of the next. */
function shift(r: FingerprintInput, from: TextField, to: TextField): FingerprintInput {
  const value = r[from];
  if (value.length === 0) return r;
  return { ...r, [from]: value.slice(0, -1), [to]: value.slice(-1) + r[to] };
}

/** Moves the first character of one field to the end of the one before. */
function shiftBack(r: FingerprintInput, before: TextField, from: TextField): FingerprintInput {
  const value = r[from];
  if (value.length === 0) return r;
  return { ...r, [before]: r[before] + value.charAt(0), [from]: value.slice(1) };
}

describe('fingerprint property', () => {
  it('random pairs of requests that differ in any meaningful component never share a fingerprint (5,000 pairs)', () => {
    const rand = prng(0x5eed);
    const names = Object.keys(MUTATIONS);
    let compared = 0;
    for (let i = 0; i < 5_000; i++) {
      const request = randomRequest(rand);
      const name = names[i % names.length] ?? 'agent';
      const changed = (MUTATIONS[name] as Mutation)(request, rand);
      if (JSON.stringify(changed) === JSON.stringify(request)) continue; // the mutation added nothing
      expect(fingerprint(changed), `${name}: ${JSON.stringify(request)} vs ${JSON.stringify(changed)}`).not.toBe(fingerprint(request));
      compared++;
    }
    expect(compared).toBeGreaterThan(4_000);
  });

  it('and only what is documented as unbound may change without changing it', () => {
    const rand = prng(42);
    for (let i = 0; i < 500; i++) {
      const request = randomRequest(rand);
      const unbound = [...UNBOUND_HEADERS][i % UNBOUND_HEADERS.size] ?? 'authorization';
      expect(fingerprint({ ...request, rawHeaders: [...request.rawHeaders, unbound, text(rand)] })).toBe(fingerprint(request));
    }
  });
});

describe('binding property', () => {
  const binding: ApprovalBinding = {
    agent: 'bot',
    service: 's3',
    region: 'us-east-1',
    roleArn: 'arn:aws:iam::123456789012:role/r',
    account: '123456789012',
    grants: [{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }, { action: 's3:GetObjectTagging', resource: 'arn:aws:s3:::b/k' }],
    parametersSha256: 'a'.repeat(64),
  };
  const changes: Array<[string, Partial<ApprovalBinding>]> = [
    ['agent', { agent: 'other' }],
    ['service', { service: 'dynamodb' }],
    ['region', { region: 'eu-west-1' }],
    ['role', { roleArn: 'arn:aws:iam::123456789012:role/admin' }],
    ['account', { account: '210987654321' }],
    ['a grant dropped', { grants: binding.grants.slice(0, 1) }],
    ['a grant added', { grants: [...binding.grants, { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' }] }],
    ['another resource', { grants: [{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/admin' }, binding.grants[1] ?? binding.grants[0]!] }],
    ['a literal read as a pattern', { grants: [{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/k', pattern: true }, binding.grants[1]!] }],
    ['boundary moved between action and resource', { grants: [{ action: 's3:GetObject arn:aws:s3:::b/k', resource: '' }, binding.grants[1]!] }],
    ['parameters', { parametersSha256: 'b'.repeat(64) }],
  ];
  it.each(changes)('an approval never serves a request with other grants: %s', (_name, change) => {
    expect(sameBinding(binding, { ...binding, ...change })).toBe(false);
  });
  it('serves exactly the binding it was made for', () => {
    expect(sameBinding(binding, { ...binding, grants: [...binding.grants] })).toBe(true);
  });
});
