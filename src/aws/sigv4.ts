import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { CountersignError } from '../errors.js';
import { NodeSha256 } from './smithy-sha256.js';
import type { Credentials, SigV4Authorization, SignableRequest } from './sigv4-types.js';
import { verifySignature } from './sigv4-verify.js';

/** What an `Authorization: AWS4-HMAC-SHA256 ...` header says. */
export type { Credentials, SigV4Authorization, SignableRequest } from './sigv4-types.js';

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SCOPE_TERMINATOR = 'aws4_request';

/** Parses the Authorization header; throws a catalogue error saying what is wrong. */
export function parseAuthorization(header: string | undefined): SigV4Authorization {
  if (header === undefined || header === '') {
    throw new CountersignError('MissingAuthentication', 'The request carries no Authorization header.');
  }
  const space = header.indexOf(' ');
  checkAlgorithm(space === -1 ? header : header.slice(0, space));
  // `name=value` parts split on commas; a repeated name counts with its last value.
  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (name === 'Credential') credential = part.slice(eq + 1).trim();
    else if (name === 'SignedHeaders') signedHeaders = part.slice(eq + 1).trim();
    else if (name === 'Signature') signature = part.slice(eq + 1).trim();
  }
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw new CountersignError('MalformedAuthorization', 'The Authorization header needs Credential, SignedHeaders and Signature.');
  }
  return { ...credentialScope(credential), signedHeaders: signedHeaders.split(';'), signature: checkedSignature(signature) };
}

/** The query parameters of a presigned URL (SigV4 query-string authentication). */
export const PRESIGN_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token'] as const;

/**
 * What a presigned URL's request drops before it goes on with header auth: its auth parameters,
 * and the payload mode smithy's presigner hoists into the query (the forwarded request states
 * its own).
 */
export const PRESIGN_ONLY_PARAMS: readonly string[] = [...PRESIGN_PARAMS, 'x-amz-content-sha256', 'X-Amz-Content-Sha256'];

/**
 * Auth in the query string: a SigV4 presigned URL (X-Amz-Credential, X-Amz-Signature or
 * X-Amz-Algorithm), or a SigV2 one (AWSAccessKeyId), which parseQueryAuthorization refuses by
 * name rather than as a request that carries no signature.
 */
export function isPresigned(query: Readonly<Record<string, string | string[]>>): boolean {
  return query['X-Amz-Credential'] !== undefined || query['X-Amz-Signature'] !== undefined || query['X-Amz-Algorithm'] !== undefined || query.AWSAccessKeyId !== undefined;
}


/** SigV4 caps a presigned URL's lifetime at seven days (X-Amz-Expires). */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/** Parses presigned-URL auth from the query; throws a catalogue error saying what is wrong. */
export function parseQueryAuthorization(query: Readonly<Record<string, string | string[]>>): SigV4Authorization {
  // SigV2 query-string auth (AWSAccessKeyId, Signature, Expires or Timestamp), which older
  // presigners (boto 2, boto3 S3 clients without signature_version='s3v4') still make.
  if (query['X-Amz-Algorithm'] === undefined && query['X-Amz-Credential'] === undefined && query.AWSAccessKeyId !== undefined) {
    throw new CountersignError('UnsupportedSigning', 'SigV2 presigned URLs (AWSAccessKeyId and Signature in the query) are not supported.');
  }
  const one = (name: (typeof PRESIGN_PARAMS)[number]): string => {
    const value = query[name];
    if (typeof value !== 'string' || value === '') {
      throw new CountersignError('MalformedAuthorization', `A presigned URL needs exactly one ${name} parameter.`);
    }
    return value;
  };
  checkAlgorithm(one('X-Amz-Algorithm'));
  const expires = one('X-Amz-Expires');
  const expiresSeconds = /^\d{1,7}$/.test(expires) ? Number(expires) : NaN;
  if (!(expiresSeconds >= 1 && expiresSeconds <= MAX_PRESIGN_SECONDS)) {
    throw new CountersignError('MalformedAuthorization', `X-Amz-Expires must be a number of seconds from 1 to ${MAX_PRESIGN_SECONDS}.`);
  }
  return {
    ...credentialScope(one('X-Amz-Credential')),
    signedHeaders: one('X-Amz-SignedHeaders').split(';'),
    signature: checkedSignature(one('X-Amz-Signature')),
    presigned: { longDate: one('X-Amz-Date'), expiresSeconds },
  };
}

function checkAlgorithm(algorithm: string): void {
  if (algorithm === 'AWS4-ECDSA-P256-SHA256') {
    throw new CountersignError('UnsupportedSigning', 'SigV4a (AWS4-ECDSA-P256-SHA256) signatures are not supported.');
  }
  if (algorithm === 'AWS') {
    throw new CountersignError('UnsupportedSigning', 'SigV2 signatures (Authorization: AWS KEY:SIGNATURE) are not supported.');
  }
  if (algorithm === 'AWS3' || algorithm === 'AWS3-HTTPS') {
    throw new CountersignError('UnsupportedSigning', `SigV3 signatures (${algorithm}) are not supported.`);
  }
  if (algorithm !== ALGORITHM) {
    throw new CountersignError('MalformedAuthorization', `Unsupported authorization scheme "${algorithm.slice(0, 32)}".`);
  }
}

function credentialScope(credential: string): Pick<SigV4Authorization, 'accessKeyId' | 'date' | 'region' | 'service'> {
  const scope = credential.split('/');
  const [accessKeyId, date, region, service, terminator] = scope;
  if (
    scope.length !== 5 ||
    accessKeyId === undefined || accessKeyId === '' ||
    date === undefined || !/^\d{8}$/.test(date) ||
    region === undefined || !/^[a-z0-9-]{1,32}$/.test(region) ||
    service === undefined || !/^[a-z0-9-]{1,64}$/.test(service) ||
    terminator !== SCOPE_TERMINATOR
  ) {
    throw new CountersignError('MalformedAuthorization', 'The credential scope must be KEY/YYYYMMDD/REGION/SERVICE/aws4_request.');
  }
  return { accessKeyId, date, region, service };
}

function checkedSignature(signature: string): string {
  if (!/^[0-9a-f]{64}$/.test(signature)) {
    throw new CountersignError('MalformedAuthorization', 'The signature must be 64 lower-case hex digits.');
  }
  return signature;
}

const AMZ_DATE_SHAPE = /^\d{8}T\d{6}Z$/;

/** The number written by the ASCII digits value[at, at + count). */
function digits(value: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) n = n * 10 + value.charCodeAt(i) - 48;
  return n;
}

/** `20240102T030405Z` to a Date, or undefined when malformed. */
export function parseAmzDate(value: string | undefined): Date | undefined {
  // A shape test and digit arithmetic: a third of the cost of capture groups and Number() (every request pays it).
  if (value === undefined || !AMZ_DATE_SHAPE.test(value)) return undefined;
  const [y, mo, d, h, mi, s] = [digits(value, 0, 4), digits(value, 4, 2), digits(value, 6, 2), digits(value, 9, 2), digits(value, 11, 2), digits(value, 13, 2)];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls 2024-02-30 over into March; a real date reads back the same fields.
  const exact = date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && date.getUTCHours() === h && date.getUTCMinutes() === mi && date.getUTCSeconds() === s;
  return exact ? date : undefined;
}

/**
 * Signers by credentials, then region and service. Minted credentials are one cached object
 * per STS session, so a WeakMap keeps one signer per session and scope and lets both go when
 * the session is dropped; a fresh credentials object just gets a fresh signer.
 */
const signers = new WeakMap<Credentials, Map<string, SignatureV4>>();
const MAX_SIGNERS_PER_CREDENTIALS = 64;

function signerFor(credentials: Credentials, region: string, service: string): SignatureV4 {
  let byScope = signers.get(credentials);
  if (byScope === undefined) signers.set(credentials, (byScope = new Map<string, SignatureV4>()));
  const scope = `${region}/${service}`;
  let signer = byScope.get(scope);
  if (signer === undefined) {
    if (byScope.size >= MAX_SIGNERS_PER_CREDENTIALS) byScope.clear();
    signer = new SignatureV4({
      credentials,
      region,
      service,
      sha256: NodeSha256,
      // SigV4: S3 paths are encoded once, every other service's twice
      // (AWS SigV4 spec, "Create a canonical request").
      uriEscapePath: service !== 's3',
      applyChecksum: false,
    });
    byScope.set(scope, signer);
  }
  return signer;
}

/**
 * Recomputes the signature an agent should have produced with its secret and compares it in
 * constant time. The request's headers must be exactly the ones the agent signed. (The work
 * is synchronous, in sigv4-verify.ts; this keeps the promise-returning form.)
 */
export function signatureMatches(request: SignableRequest, auth: SigV4Authorization, secretAccessKey: string, signingDate: Date): Promise<boolean> {
  try {
    return Promise.resolve(verifySignature(request, auth, secretAccessKey, signingDate));
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/**
 * Signs an outgoing request with minted credentials and countersign's own clock. smithy
 * clones the request before it adds anything, so the caller's objects are passed as they are.
 */
export async function signRequest(
  request: SignableRequest,
  credentials: Credentials,
  region: string,
  service: string,
  signingDate: Date = new Date(),
): Promise<Record<string, string>> {
  const smithyRequest: HttpRequest = {
    method: request.method,
    protocol: 'https:',
    hostname: request.host,
    path: request.rawPath,
    query: request.query,
    headers: request.headers,
    body: request.body,
  };
  const signed = await signerFor(credentials, region, service).sign(smithyRequest, { signingDate });
  return signed.headers;
}

export { sha256Hex } from './sigv4-verify.js';
