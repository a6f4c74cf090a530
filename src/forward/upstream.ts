import type { Readable, Writable } from 'node:stream';
import { Agent } from 'undici';
import { CountersignError } from '../errors.js';
import type { UpstreamTarget } from './target.js';

export interface UpstreamOptions {
  /** Extra CA certificates (PEM) to trust for upstream TLS, e.g. a private VPC endpoint CA. */
  readonly ca?: string;
  readonly connectionsPerOrigin?: number;
}

/** Called once the upstream's status and headers arrive; returns where the body goes. */
export type ResponseSink = (statusCode: number, headers: Record<string, string | string[] | undefined>) => Writable;

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

  /**
   * Sends the request and streams the answer into the sink's writable (undici's `stream`,
   * which skips the intermediate Readable). A failure before the answer starts is an
   * UpstreamUnavailable refusal; after it, the sink is destroyed mid-stream.
   */
  async forward(
    target: UpstreamTarget,
    method: string,
    headers: Record<string, string>,
    body: Buffer | Readable | undefined,
    signal: AbortSignal,
    sink: ResponseSink,
  ): Promise<void> {
    let started = false;
    try {
      await this.agent.stream({ origin: target.origin, path: target.rawPath, method, headers, body: body ?? null, signal }, ({ statusCode, headers: responseHeaders }) => {
        started = true;
        return sink(statusCode, responseHeaders);
      });
    } catch (error) {
      if (started) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new CountersignError('UpstreamUnavailable', `Forwarding to ${target.origin} failed: ${message}.`);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
