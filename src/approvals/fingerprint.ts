import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { QueryParams } from '../aws/query-string.js';

/** Query parameters that carry authentication, not meaning (SigV4 presigning). */
const AUTH_QUERY = new Set(['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature', 'x-amz-security-token']);

/** x-amz-* headers that differ between two sends of the same request (signing and SDK bookkeeping). */
const VOLATILE_AMZ_HEADERS = new Set(['x-amz-date', 'x-amz-security-token', 'x-amz-user-agent', 'x-amz-sdk-invocation-id', 'x-amz-sdk-request']);

/** Headers outside x-amz-* that change what a call does. */
const MEANINGFUL_HEADERS = ['content-md5', 'content-type', 'content-encoding', 'content-disposition', 'cache-control', 'expires'];

export interface FingerprintInput {
  readonly agent: string;
  readonly method: string;
  readonly host: string;
  readonly rawPath: string;
  readonly query: QueryParams;
  readonly headers: IncomingHttpHeaders;
  /** SHA-256 of the body, hex (of the empty string for no body). */
  readonly bodySha256: string;
}

/**
 * What an approval is bound to: the agent, method, host, path, query without auth parameters,
 * every header that changes meaning (copy source, ACL, grants, tagging, checksums, content
 * hash, target, encryption, ...), and the body's SHA-256. An approval for one object never
 * serves another, and a changed body or header needs a new approval.
 */
export function fingerprint(input: FingerprintInput): string {
  const query = Object.entries(input.query)
    .filter(([key]) => !AUTH_QUERY.has(key.toLowerCase()))
    .flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${key}=${v}`))
    .sort();
  const headers = Object.entries(input.headers)
    .filter(([name]) => (name.startsWith('x-amz-') && !VOLATILE_AMZ_HEADERS.has(name)) || MEANINGFUL_HEADERS.includes(name))
    .map(([name, value]) => `${name}:${Array.isArray(value) ? value.join(',') : (value ?? '')}`)
    .sort();
  const canonical = [input.agent, input.method, input.host.toLowerCase(), input.rawPath, query.join('&'), headers.join('\n'), input.bodySha256].join('\n\0');
  return createHash('sha256').update(canonical).digest('hex');
}
