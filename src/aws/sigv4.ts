import { createHash, createHmac, timingSafeEqual, type Hash as NodeHash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Hash, HttpRequest, SourceData } from '@smithy/types';
import { CountersignError } from '../errors.js';

/** What an `Authorization: AWS4-HMAC-SHA256 ...` header says. */
export interface SigV4Authorization {
  readonly accessKeyId: string;
  readonly date: string; // YYYYMMDD from the credential scope
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** A request as SigV4 sees it: the raw wire path, the decoded query, and header values. */
export interface SignableRequest {
  readonly method: string;
  readonly host: string;
  readonly rawPath: string;
  readonly query: Readonly<Record<string, string | string[]>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SCOPE_TERMINATOR = 'aws4_request';

/** Parses the Authorization header; throws a catalogue error saying what is wrong. */
export function parseAuthorization(header: string | undefined): SigV4Authorization {
  if (header === undefined || header === '') {
    throw new CountersignError('MissingAuthentication', 'The request carries no Authorization header.');
  }
  const space = header.indexOf(' ');
  const algorithm = space === -1 ? header : header.slice(0, space);
  if (algorithm === 'AWS4-ECDSA-P256-SHA256') {
    throw new CountersignError('UnsupportedSigning', 'SigV4a (AWS4-ECDSA-P256-SHA256) signatures are not supported.');
  }
  if (algorithm !== ALGORITHM) {
    throw new CountersignError('MalformedAuthorization', `Unsupported authorization scheme "${algorithm.slice(0, 32)}".`);
  }
  const fields = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw new CountersignError('MalformedAuthorization', 'The Authorization header needs Credential, SignedHeaders and Signature.');
  }
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
  if (!/^[0-9a-f]{64}$/.test(signature)) {
    throw new CountersignError('MalformedAuthorization', 'The signature must be 64 lower-case hex digits.');
  }
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

/** `20240102T030405Z` to a Date, or undefined when malformed. */
export function parseAmzDate(value: string | undefined): Date | undefined {
  const m = value === undefined ? null : /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The hash constructor smithy's signer takes, backed by node:crypto (HMAC when keyed). */
class NodeSha256 implements Hash {
  private readonly hash: NodeHash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

function signerFor(credentials: Credentials, region: string, service: string): SignatureV4 {
  return new SignatureV4({
    credentials,
    region,
    service,
    sha256: NodeSha256,
    // SigV4: S3 paths are encoded once, every other service's twice
    // (AWS SigV4 spec, "Create a canonical request").
    uriEscapePath: service !== 's3',
    applyChecksum: false,
  });
}

function toSmithyRequest(request: SignableRequest): HttpRequest {
  return {
    method: request.method,
    protocol: 'https:',
    hostname: request.host,
    path: request.rawPath,
    query: { ...request.query },
    headers: { ...request.headers },
    body: request.body,
  };
}

/**
 * Recomputes the signature an agent should have produced with its secret and compares it in
 * constant time. The request's headers must be exactly the ones the agent signed.
 */
export async function signatureMatches(
  request: SignableRequest,
  auth: SigV4Authorization,
  secretAccessKey: string,
  signingDate: Date,
): Promise<boolean> {
  const signer = signerFor({ accessKeyId: auth.accessKeyId, secretAccessKey }, auth.region, auth.service);
  const signed = await signer.sign(toSmithyRequest(request), {
    signingDate,
    signableHeaders: new Set(auth.signedHeaders),
  });
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] ?? '';
  return expected.length === auth.signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(auth.signature));
}

/** Signs an outgoing request with minted credentials and countersign's own clock. */
export async function signRequest(
  request: SignableRequest,
  credentials: Credentials,
  region: string,
  service: string,
  signingDate: Date = new Date(),
): Promise<Record<string, string>> {
  const signed = await signerFor(credentials, region, service).sign(toSmithyRequest(request), { signingDate });
  return signed.headers;
}

export function sha256Hex(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}
