import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

/** A JWKS or discovery document is a few KiB; a larger answer is refused, not buffered. */
export const MAX_DOCUMENT_BYTES = 256 * 1024;
const TIMEOUT_MS = 5_000;

export type JsonFetcher = (url: string) => Promise<unknown>;

/**
 * GETs a JSON document for one issuer: its own CA file and bearer token (a Kubernetes API
 * server's discovery endpoints), no redirects (a redirect could lead key fetches elsewhere),
 * bounded in time and size. Never through HTTPS_PROXY: the issuer is reached directly.
 */
export function issuerFetcher(options: { caFile?: string; bearerTokenFile?: string }): { fetch: JsonFetcher; close(): Promise<void> } {
  const dispatcher = new Agent({
    connect: { timeout: TIMEOUT_MS, ...(options.caFile !== undefined && { ca: readFileSync(options.caFile, 'utf8') }) },
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
  });
  const fetch: JsonFetcher = async (url) => {
    const headers: Record<string, string> = { accept: 'application/json, application/jwk-set+json' };
    // Read per fetch: a projected token file is rotated by the kubelet.
    if (options.bearerTokenFile !== undefined) headers.authorization = `Bearer ${readFileSync(options.bearerTokenFile, 'utf8').trim()}`;
    // undici follows no redirects without its redirect interceptor: a 3xx is refused below.
    const response = await request(url, { method: 'GET', headers, dispatcher });
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new Error(`GET ${url} answered ${response.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_DOCUMENT_BYTES) {
        response.body.destroy();
        throw new Error(`GET ${url} answered more than ${MAX_DOCUMENT_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch {
      throw new Error(`GET ${url} answered something other than JSON`);
    }
  };
  return { fetch, close: () => dispatcher.close() };
}
