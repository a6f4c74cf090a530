import { createHash, type Hash } from 'node:crypto';

/**
 * Headers an approval is not bound to, and why. Everything else the agent sent is bound,
 * whatever its name: a header this list forgets is a header that needs a new approval, never
 * one that may be added after a human said yes.
 */
export const UNBOUND_HEADERS: ReadonlySet<string> = new Set([
  // Transport, per hop (RFC 9110 section 7.6.1), or framing of a body whose SHA-256 is bound.
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'content-length',
  // Bound as a field of its own (lower-cased).
  'host',
  // SigV4 signing: new on every send (the signature, its time, the agent's session token).
  'authorization', 'x-amz-date', 'date', 'x-amz-security-token',
  // SDK bookkeeping that changes per attempt or per process, never what AWS does.
  'user-agent', 'x-amz-user-agent', 'amz-sdk-invocation-id', 'amz-sdk-request', 'x-amz-sdk-invocation-id', 'x-amz-sdk-request',
]);

export interface FingerprintInput {
  readonly agent: string;
  /** The verified credential scope: the signing name and region the agent signed for. */
  readonly service: string;
  readonly region: string;
  readonly method: string;
  readonly host: string;
  /** The path exactly as on the wire. */
  readonly rawPath: string;
  /** The query exactly as on the wire (still encoded, in its order), presigning parameters removed. */
  readonly rawQuery: string;
  /** `IncomingMessage.rawHeaders`: every header line as sent, names and values alternating. */
  readonly rawHeaders: readonly string[];
  /** SHA-256 of the body, hex (of the empty string for no body). */
  readonly bodySha256: string;
}

const VERSION = 'countersign-fingerprint-v2';

/**
 * The exact request an approval is bound to, as an injective encoding: every field is written
 * as `<byte length>:<bytes>`, so no value can move a boundary (a decoded `&` or `=` inside a
 * query value, a newline inside a header). The query stays encoded and in its order, as SigV4
 * signs it; headers are every line sent less UNBOUND_HEADERS, sorted by name with repeats kept
 * in their order. Two requests share a fingerprint only if they are the same request.
 */
export function fingerprint(input: FingerprintInput): string {
  const hash = createHash('sha256');
  field(hash, VERSION);
  for (const value of [input.agent, input.service, input.region, input.method, input.host.toLowerCase(), input.rawPath, input.rawQuery]) field(hash, value);
  const headers = boundHeaders(input.rawHeaders);
  field(hash, String(headers.length));
  for (const [name, value] of headers) {
    field(hash, name);
    field(hash, value);
  }
  field(hash, input.bodySha256);
  return hash.digest('hex');
}

/** The bound header lines, lower-cased names, sorted by name (stable: repeats keep their order). */
export function boundHeaders(rawHeaders: readonly string[]): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    if (!UNBOUND_HEADERS.has(name)) lines.push([name, rawHeaders[i + 1] as string]);
  }
  return lines.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** One length-prefixed field: the length in bytes, a colon, the bytes. */
export function field(hash: Hash, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  hash.update(`${bytes.length}:`);
  hash.update(bytes);
}
