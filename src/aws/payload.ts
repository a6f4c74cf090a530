import type { IncomingHttpHeaders } from 'node:http';
import { CountersignError } from '../errors.js';

/**
 * How a request's body is authenticated, named by `x-amz-content-sha256` (S3 sends it always,
 * other services when they stream):
 *  - `absent`: no header; the signature covers the body's SHA-256, so the body is read to verify;
 *  - `hashed`: a hex SHA-256 that countersign re-signs with as it is, so AWS checks the body;
 *  - `unsigned`: UNSIGNED-PAYLOAD or STREAMING-UNSIGNED-PAYLOAD-TRAILER, passed on as they are;
 *  - `chunks` / `chunks-trailer`: STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], each chunk signed
 *    in a chain that starts at the request's signature: verified and re-signed chunk by chunk.
 */
export type PayloadMode = 'absent' | 'hashed' | 'unsigned' | 'chunks' | 'chunks-trailer';

const MODES: Readonly<Record<string, PayloadMode>> = {
  'UNSIGNED-PAYLOAD': 'unsigned',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER': 'unsigned',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': 'chunks',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': 'chunks-trailer',
};

export function payloadModeOf(headers: IncomingHttpHeaders): PayloadMode {
  const value = headers['x-amz-content-sha256'];
  if (value === undefined) return 'absent';
  if (typeof value !== 'string') throw new CountersignError('MalformedAuthorization', 'x-amz-content-sha256 is given more than once.');
  if (/^[0-9a-f]{64}$/.test(value)) return 'hashed';
  const mode = Object.hasOwn(MODES, value) ? MODES[value] : undefined;
  if (mode !== undefined) return mode;
  if (value.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256')) {
    throw new CountersignError('UnsupportedSigning', `The payload mode ${value.slice(0, 64)} is SigV4a, which countersign does not support.`);
  }
  throw new CountersignError('MalformedAuthorization', 'x-amz-content-sha256 must be a hex SHA-256 or a known payload mode.');
}
