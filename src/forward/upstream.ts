import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { CountersignError } from '../errors.js';

export interface UpstreamOptions {
  /** Extra CA certificates (PEM) to trust for upstream TLS, e.g. a private VPC endpoint CA. */
  readonly ca?: string;
  readonly connectionsPerOrigin?: number;
}

/** Where to send a request: the origin to connect to and the path (with query) on the wire. */
export interface UpstreamRequest {
  readonly origin: string;
  readonly path: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | Readable | undefined;
}

/**
 * Called once the upstream's status and headers arrive, before any body byte: it must give
 * `res` its status line and headers (res.writeHead). `rawHeaders` alternates names and values,
 * as undici read them off the wire.
 */
export type ResponseHead = (statusCode: number, rawHeaders: readonly Buffer[]) => void;

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
   * Sends the request and streams the answer into `res`. A failure before the answer starts is
   * an UpstreamUnavailable refusal; after it, `res` is destroyed mid-stream and the promise
   * rejects. A client that goes away before the answer is complete cancels the upstream call.
   */
  forward(request: UpstreamRequest, res: ServerResponse, head: ResponseHead): Promise<void> {
    return new Promise((resolve, reject) => {
      const handler = new ProxyHandler(request.origin, res, head, resolve, reject);
      this.agent.dispatch({ origin: request.origin, path: request.path, method: request.method, headers: request.headers, body: request.body ?? null }, handler);
    });
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/**
 * A response whose declared length is at most this is held until complete and written with its
 * headers in one `res.end`: one write (one TLS record) to the client instead of two or three.
 * Larger, chunked or streaming answers (S3 Select's event stream) go through as they arrive.
 */
const COALESCE_MAX_BYTES = 64 * 1024;

/**
 * undici's dispatch handler (its core callback interface, the one its own `stream` API is built
 * on) writing straight into the ServerResponse: no intermediate stream, AbortSignal or
 * async-resource bookkeeping per request.
 */
class ProxyHandler implements Dispatcher.DispatchHandler {
  private abortUpstream: ((error: Error) => void) | undefined;
  private clientGone = false;
  private started = false;
  private headError: unknown;
  private held: Buffer[] | undefined;
  private readonly onClientClose = (): void => {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    this.abortUpstream?.(new Error('the client closed the connection'));
  };

  constructor(
    private readonly origin: string,
    private readonly res: ServerResponse,
    private readonly head: ResponseHead,
    private readonly resolve: () => void,
    private readonly reject: (error: Error) => void,
  ) {
    res.once('close', this.onClientClose);
  }

  onConnect(abort: (error?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.clientGone) abort(new Error('the client closed the connection'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: undici reads on to the final answer
    try {
      this.head(statusCode, rawHeaders);
    } catch (error) {
      // A header node refuses to send: undici turns the throw into onError, which passes it on
      // as it is (an internal error, not an unavailable upstream).
      this.headError = error;
      throw error;
    }
    this.started = true;
    if (contentLength(rawHeaders) <= COALESCE_MAX_BYTES) this.held = [];
    else this.res.on('drain', resume);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.held !== undefined) {
      this.held.push(chunk);
      return true;
    }
    return this.res.write(chunk);
  }

  onComplete(): void {
    const held = this.held;
    if (held === undefined || held.length === 0) this.res.end();
    else this.res.end(held.length === 1 ? held[0] : Buffer.concat(held));
    this.res.off('close', this.onClientClose);
    this.resolve();
  }

  onError(error: Error): void {
    this.res.off('close', this.onClientClose);
    if (error === this.headError) {
      this.reject(error);
      return;
    }
    if (this.started) {
      this.res.destroy(error);
      this.reject(error);
      return;
    }
    this.reject(new CountersignError('UpstreamUnavailable', `Forwarding to ${this.origin} failed: ${error.message}.`));
  }
}

/** The Content-Length the upstream declared, or NaN (chunked, or none). */
function contentLength(rawHeaders: readonly Buffer[]): number {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name !== undefined && name.length === 14 && name.toString('latin1').toLowerCase() === 'content-length') return Number(rawHeaders[i + 1]?.toString('latin1'));
  }
  return NaN;
}
