import type { Readable } from 'node:stream';
import { Agent } from 'undici';
import { CountersignError } from '../errors.js';
import type { UpstreamTarget } from './target.js';

export interface UpstreamOptions {
  /** Extra CA certificates (PEM) to trust for upstream TLS, e.g. a private VPC endpoint CA. */
  readonly ca?: string;
  readonly connectionsPerOrigin?: number;
}

export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Readable;
}

/**
 * Pooled keep-alive connections to AWS (undici: one pool per origin). Bodies stream both
 * ways; a body with a Content-Length goes out with that length, never as chunked.
 */
export class UpstreamClient {
  private readonly agent: Agent;

  constructor(options: UpstreamOptions = {}) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: options.connectionsPerOrigin ?? 256,
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
      connect: { ...(options.ca !== undefined && { ca: options.ca }), minVersion: 'TLSv1.2' },
    });
  }

  async send(
    target: UpstreamTarget,
    method: string,
    headers: Record<string, string>,
    body: Buffer | Readable | undefined,
    signal: AbortSignal,
  ): Promise<UpstreamResponse> {
    try {
      const response = await this.agent.request({
        origin: target.origin,
        path: target.rawPath,
        method: method,
        headers,
        body: body ?? null,
        signal,
      });
      return { statusCode: response.statusCode, headers: response.headers, body: response.body };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new CountersignError('UpstreamUnavailable', `Forwarding to ${target.origin} failed: ${message}.`);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
