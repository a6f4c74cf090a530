/**
 * Verifying an agent's SigV4 signature, synchronously. Signing outgoing requests stays with
 * `@smithy/signature-v4` (sigv4.ts); this file only recomputes what the agent should have
 * sent, and does it the way smithy's signer does, step for step, so a request verifies here
 * exactly when smithy would have produced the same signature for it (one exception: a query
 * key named `__proto__`, which smithy's object-keyed canonical query garbles and botocore and
 * this file encode like any other key):
 *
 *  - canonical URI: S3 paths as sent (encoded once); other services' paths with empty, `.`
 *    and `..` segments normalised, then encoded again (AWS SigV4 spec, "Create a canonical
 *    request");
 *  - canonical query: keys and values RFC 3986-encoded, sorted by encoded key, repeated keys
 *    by value;
 *  - canonical headers: the headers the agent signed (less `authorization` and `date`, which
 *    smithy never signs), X-Amz-Date from the signing date, values trimmed with sequential
 *    spaces collapsed;
 *  - payload hash: a signed `x-amz-content-sha256`, else UNSIGNED-PAYLOAD for an S3 presigned URL,
 *    else the body's SHA-256, else the empty hash;
 *  - presigned URLs: X-Amz-Date comes from the query and is not added as a header; the canonical
 *    query holds every parameter but X-Amz-Signature.
 *
 * It exists because verifying with smithy's signer cost ~19 µs a request (async, a fresh signer,
 * three HMACs, request clones, regexes); this costs ~4 µs, with the derived signing key cached.
 * test/unit/sigv4-verify.test.ts checks it against smithy and botocore.
 */
import * as nodeCrypto from 'node:crypto';
import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { SigV4Authorization, SignableRequest } from './sigv4-types.js';

const ALGORITHM = 'AWS4-HMAC-SHA256';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** RFC 3986 unreserved characters stay, all else is %XX (smithy's escapeUri). */
export function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function canonicalUri(rawPath: string, service: string): string {
  if (service === 's3') return rawPath;
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalised = `${rawPath.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && rawPath.endsWith('/') ? '/' : ''}`;
  return escapeUri(normalised).replace(/%2F/g, '/');
}

export function canonicalQuery(query: SignableRequest['query']): string {
  const keys: string[] = [];
  const pairs = new Map<string, string>();
  for (const key of Object.keys(query)) {
    if (key.toLowerCase() === 'x-amz-signature') continue;
    const value = query[key];
    const encodedKey = escapeUri(key);
    keys.push(encodedKey);
    if (typeof value === 'string') pairs.set(encodedKey, `${encodedKey}=${escapeUri(value)}`);
    else if (Array.isArray(value)) pairs.set(encodedKey, value.map((v) => `${encodedKey}=${escapeUri(v)}`).sort().join('&'));
  }
  if (keys.length === 0) return '';
  let out = '';
  for (const key of keys.sort()) {
    const pair = pairs.get(key);
    if (pair === undefined || pair === '') continue;
    out = out === '' ? pair : `${out}&${pair}`;
  }
  return out;
}

/** Needs any rewriting: CR/LF, tabs, runs of spaces, a leading or trailing space. */
const UNTRIMMED = /[\r\n\t]| {2}|^ | $/;

function canonicalHeaderValue(value: string): string {
  if (!UNTRIMMED.test(value)) return value;
  return value.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}

/**
 * SHA-256 in hex: node's one-shot `crypto.hash` (node >= 20.12; looked up on the namespace so
 * older 20.x still loads) is twice as fast as a Hash object.
 */
const oneShot = (nodeCrypto as { hash?: typeof nodeCrypto.hash }).hash;
export const sha256Hex: (data: string | Buffer) => string =
  typeof oneShot === 'function' ? (data) => oneShot('sha256', data, 'hex') : (data) => createHash('sha256').update(data).digest('hex');

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/** `20240102T030405Z` as smithy formats a signing date (toISOString less `-`, `:` and millis). */
export function amzDate(date: Date): string {
  const year = date.getUTCFullYear();
  // toISOString writes other years with six digits and a sign; leave those to it.
  if (!(year >= 0 && year <= 9999)) return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return `${String(year).padStart(4, '0')}${pad2(date.getUTCMonth() + 1)}${pad2(date.getUTCDate())}T${pad2(date.getUTCHours())}${pad2(date.getUTCMinutes())}${pad2(date.getUTCSeconds())}Z`;
}

/** Headers smithy leaves out unless SignedHeaders names them (its ALWAYS_UNSIGNABLE_HEADERS). */
const UNSIGNABLE = new Set([
  'authorization', 'cache-control', 'connection', 'expect', 'from', 'keep-alive', 'max-forwards', 'pragma', 'referer', 'te',
  'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'x-amzn-trace-id',
]);

function unsignable(name: string): boolean {
  return UNSIGNABLE.has(name) || name.startsWith('proxy-') || name.startsWith('sec-');
}

/**
 * The request's canonical form. `longDate` replaces any X-Amz-Date value; `authorization` and
 * `date` are dropped, as smithy drops them before signing whatever SignedHeaders says.
 */
export function canonicalRequest(request: SignableRequest, signedHeaders: readonly string[], service: string, longDate: string, presigned = false): string {
  const names = Object.keys(request.headers);
  let payloadHash: string | undefined;
  for (const name of names) {
    if (name.toLowerCase() === 'x-amz-content-sha256') {
      payloadHash = request.headers[name];
      break;
    }
  }
  const values = new Map<string, string>();
  for (const name of names.sort()) {
    const lower = name.toLowerCase();
    const value = request.headers[name];
    if (value === undefined || lower === 'authorization' || lower === 'date' || lower === 'x-amz-date') continue;
    if (unsignable(lower) && !signedHeaders.includes(lower)) continue;
    values.set(lower, canonicalHeaderValue(value));
  }
  // A presigned URL carries its date in the query, which the canonical query already holds.
  if (!presigned) values.set('x-amz-date', longDate);
  const sorted = [...values.keys()].sort();
  let headerLines = '';
  for (const name of sorted) headerLines += `${name}:${values.get(name) ?? ''}\n`;
  // S3 presigned URLs sign no payload (S3 API Reference, "Authenticating Requests: Using Query Parameters").
  if (presigned && service === 's3') payloadHash ??= 'UNSIGNED-PAYLOAD';
  payloadHash ??= request.body === undefined ? EMPTY_SHA256 : sha256Hex(request.body);
  return `${request.method}\n${canonicalUri(request.rawPath, service)}\n${canonicalQuery(request.query)}\n${headerLines}\n${sorted.join(';')}\n${payloadHash}`;
}

/**
 * Derived signing keys by (secret, date, region, service): the four-HMAC chain runs once a
 * day per agent key and scope instead of on every request. Bounded; the oldest goes first.
 */
const signingKeys = new Map<string, KeyObject>();
const MAX_SIGNING_KEYS = 1000;

/** The derived key, kept as a KeyObject: node:crypto then skips re-importing it per HMAC. */
export function signingKey(secret: string, shortDate: string, region: string, service: string): KeyObject {
  const cacheKey = `${shortDate}\n${region}\n${service}\n${secret}`;
  let key = signingKeys.get(cacheKey);
  if (key === undefined) {
    let bytes = createHmac('sha256', `AWS4${secret}`).update(shortDate).digest();
    for (const part of [region, service, 'aws4_request']) bytes = createHmac('sha256', bytes).update(part).digest();
    key = createSecretKey(bytes);
    if (signingKeys.size >= MAX_SIGNING_KEYS) {
      const oldest = signingKeys.keys().next().value;
      if (oldest !== undefined) signingKeys.delete(oldest);
    }
    signingKeys.set(cacheKey, key);
  }
  return key;
}

/** The signature the agent should have sent, as 64 lower-case hex digits. */
export function expectedSignature(request: SignableRequest, auth: SigV4Authorization, secret: string, signingDate: Date): string {
  const longDate = amzDate(signingDate);
  const shortDate = longDate.slice(0, 8);
  const scope = `${shortDate}/${auth.region}/${auth.service}/aws4_request`;
  const hashed = sha256Hex(canonicalRequest(request, auth.signedHeaders, auth.service, longDate, auth.presigned !== undefined));
  const stringToSign = `${ALGORITHM}\n${longDate}\n${scope}\n${hashed}`;
  return createHmac('sha256', signingKey(secret, shortDate, auth.region, auth.service)).update(stringToSign).digest('hex');
}

/** Recomputes the signature and compares it in constant time. */
export function verifySignature(request: SignableRequest, auth: SigV4Authorization, secret: string, signingDate: Date): boolean {
  const expected = Buffer.from(expectedSignature(request, auth, secret, signingDate));
  const given = Buffer.from(auth.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
