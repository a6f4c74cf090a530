import type { IncomingHttpHeaders } from 'node:http';
import { CountersignError } from '../errors.js';

/**
 * S3 payload modes, named by `x-amz-content-sha256`. The body streams through untouched and
 * countersign re-signs with the same value, so AWS checks the body against the agent's
 * declared hash. Signed streaming payloads carry per-chunk signatures chained to the
 * agent's signature; they would need re-signing chunk by chunk and are refused for now.
 */
const PASSTHROUGH_MODES = new Set(['UNSIGNED-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER']);

export function checkPayloadMode(headers: IncomingHttpHeaders): void {
  const mode = headers['x-amz-content-sha256'];
  if (typeof mode !== 'string') {
    throw new CountersignError('MalformedAuthorization', 'S3 requests must carry x-amz-content-sha256.');
  }
  if (/^[0-9a-f]{64}$/.test(mode) || PASSTHROUGH_MODES.has(mode)) return;
  if (mode.startsWith('STREAMING-')) {
    throw new CountersignError('UnsupportedSigning', `The payload mode ${mode.slice(0, 64)} (signed chunks) is not supported yet.`);
  }
  throw new CountersignError('MalformedAuthorization', 'x-amz-content-sha256 must be a hex SHA-256 or a known payload mode.');
}
