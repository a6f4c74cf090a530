import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { CountersignError } from '../errors.js';

/** A body is on its way: chunked, or a Content-Length other than 0 (told from the headers, no byte read). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0';
}

/** Reads a whole request body, refusing past `limit` bytes without reading further. */
export async function readBody(message: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(message.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of message as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(limit: number): CountersignError {
  return new CountersignError('RequestTooLarge', `The request body is larger than ${limit} bytes.`);
}
