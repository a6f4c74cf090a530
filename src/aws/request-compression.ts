import { gunzipSync } from 'node:zlib';
import type { IncomingHttpHeaders } from 'node:http';
import { CountersignError } from '../errors.js';

/**
 * The body as AWS will read it, for classification. SDKs gzip large query and JSON requests
 * (Smithy's requestCompression: botocore compresses CloudWatch PutMetricData above 10 KiB by
 * default) and AWS decompresses them before reading a parameter. Read compressed, such a body
 * names nothing, or names what a crafted stream says while AWS reads what it decompresses to.
 * So it is decompressed (bounded like any buffered body) and decided on that; the bytes sent on
 * are the agent's own. REST bodies are left alone: there Content-Encoding describes the payload
 * (an S3 object stored gzipped), not the request.
 */
export function bodyForReading(body: Buffer, headers: IncomingHttpHeaders, protocol: string, limit: number): Buffer {
  const encoding = headers['content-encoding']?.trim().toLowerCase();
  if (encoding === undefined || encoding === '' || encoding === 'identity') return body;
  const rpc = protocol === 'query' || headers['x-amz-target'] !== undefined;
  if (!rpc) return body;
  if (encoding !== 'gzip') {
    throw new CountersignError('MalformedRequestBody', `The body is encoded as "${encoding.slice(0, 64)}", which countersign cannot read to decide on it; send it uncompressed or gzip-compressed.`);
  }
  try {
    return gunzipSync(body, { maxOutputLength: limit });
  } catch (error) {
    const tooLarge = error instanceof RangeError || (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    if (tooLarge) throw new CountersignError('RequestTooLarge', `The gzip-compressed body decompresses to more than ${limit} bytes.`);
    throw new CountersignError('MalformedRequestBody', 'The body says Content-Encoding: gzip but is not valid gzip data.');
  }
}
