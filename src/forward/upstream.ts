import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Agent, type buildConnector, type Dispatcher } from 'undici';
import { CountersignError, isCountersignError } from '../errors.js';

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
 * The upstream socket's buffer each way (`highWaterMark`). undici gives a TLS socket 16 KiB, and
 * node reports every TLS write done only on a later turn of the event loop (TLSWrap completes
 * writes through setImmediate). A streamed body arrives one TLS record, 16 KiB, per chunk, so
 * at 16 KiB every single write fills the socket. undici then pauses the agent's body and resumes
 * it on 'drain' once per 16 KiB, 65,536 times per GiB. At 128 KiB the chunks of one read leave
 * in one writev, and undici pauses only under real back-pressure. In bench/upload.js countersign
 * then spends about a sixth less CPU per GiB; 64 KiB and 256 KiB saved less. Memory stays
 * bounded: about this much waits per connection before undici pauses the body, and before a
 * slowly read answer stops the socket's reads.
 */
const UPSTREAM_SOCKET_BUFFER_BYTES = 128 * 1024;

/** node's tls.connect and net.connect pass `highWaterMark` on to the socket; @types/node's ConnectionOptions leaves it out. */
type SocketOptions = buildConnector.BuildOptions & { readonly highWaterMark: number };

/**
 * Methods whose bodiless requests undici 8 (as 7 did) sends with `Content-Length: 0`; for every
 * other method it writes none (lib/dispatcher/client-h1.js, writeH1's `expectsPayload`, after
 * RFC 9110 section 8.6: a user agent should not send Content-Length when the request has no
 * content and the method does not anticipate any).
 */
const EXPECTS_PAYLOAD = new Set(['PUT', 'POST', 'PATCH', 'QUERY', 'PROPFIND', 'PROPPATCH']);

/**
 * The Content-Length this client writes for a request, as undici 8 decides it on HTTP/1.1
 * (lib/dispatcher/client-h1.js: writeH1, writeBuffer, AsyncWriter), or undefined when it writes
 * none that anyone could have signed:
 *  - no body, or an empty one: `0` for the methods above, none for GET, HEAD, DELETE, OPTIONS
 *    (so a DELETE that came with `Content-Length: 0` goes on without it);
 *  - a Buffer: its length;
 *  - a stream: its declared length as a number (`003` goes out as `3`), as for no body when
 *    that is 0; none without one: it goes chunked (or, empty, with an unsigned `0`).
 * A request is signed with this value and never with the agent's, so every header signed is
 * one the upstream receives. The framing headers the agent sent (Transfer-Encoding, Expect,
 * Connection) are never forwarded: undici refuses or rewrites them (forward/headers.ts).
 */
export function sentContentLength(method: string, body: Buffer | Readable | undefined, declared: string | undefined): string | undefined {
  const empty = EXPECTS_PAYLOAD.has(method) ? '0' : undefined;
  if (body === undefined) return empty;
  if (Buffer.isBuffer(body)) return body.length === 0 ? empty : String(body.length);
  if (declared === undefined || !/^\d{1,15}$/.test(declared)) return undefined;
  const length = Number(declared);
  return length === 0 ? empty : String(length);
}

/**
 * Pooled keep-alive connections to AWS (undici: one pool per origin), on HTTP/1.1 (the framing
 * sentContentLength describes). Bodies stream both ways; a body with a Content-Length goes out
 * with that length, never as chunked.
 */
export class UpstreamClient {
  private readonly agent: Agent;

  constructor(options: UpstreamOptions = {}) {
    const connect: SocketOptions = { ...(options.ca !== undefined && { ca: options.ca }), minVersion: 'TLSv1.2', highWaterMark: UPSTREAM_SOCKET_BUFFER_BYTES };
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: options.connectionsPerOrigin ?? 256,
      // HTTP/1.1 only: undici 8 negotiates HTTP/2 by ALPN unless told not to, and
      // sentContentLength describes HTTP/1.1 framing.
      allowH2: false,
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
      connect,
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
 * undici's dispatch handler (its core callback interface, the one its own `stream` API is built
 * on) writing straight into the ServerResponse: no intermediate stream, AbortSignal or
 * async-resource bookkeeping per request. undici 8's handler API: pausing, resuming and
 * aborting go through the controller, the raw headers are on it.
 */
class ProxyHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private clientGone = false;
  private started = false;
  private headError: unknown;
  private readonly onClientClose = (): void => {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    this.controller?.abort(new Error('the client closed the connection'));
  };
  private readonly onDrain = (): void => this.controller?.resume();

  constructor(
    private readonly origin: string,
    private readonly res: ServerResponse,
    private readonly head: ResponseHead,
    private readonly resolve: () => void,
    private readonly reject: (error: Error) => void,
  ) {
    res.once('close', this.onClientClose);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new Error('the client closed the connection'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    if (statusCode < 200) return; // 1xx: undici reads on to the final answer
    try {
      // HTTP/1.1 (allowH2: false): the header lines as undici read them off the wire.
      this.head(statusCode, controller.rawHeaders as Buffer[]);
    } catch (error) {
      // A header node refuses to send: undici aborts the request with the throw, and
      // onResponseError passes it on as it is (an internal error, not an unavailable upstream).
      this.headError = error;
      throw error;
    }
    this.started = true;
    this.res.on('drain', this.onDrain);
  }

  /**
   * Back-pressure: pauses undici's reads until `res` drains, also for an upstream that closes
   * its connection after the answer (undici 8 finishes a paused parser at the upstream's FIN;
   * undici 7 crashed the process there, nodejs/undici#5360). A small answer still leaves in one
   * write: node corks the socket on the first write and uncorks on the next tick, by when undici
   * has delivered the whole answer.
   */
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.res.end();
    this.settle();
    this.resolve();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.settle();
    if (error === this.headError) {
      this.reject(error);
      return;
    }
    if (this.started) {
      this.res.destroy(error);
      this.reject(error);
      return;
    }
    // countersign's own refusal while sending the body (a signed chunk that does not verify).
    if (isCountersignError(error)) {
      this.reject(error);
      return;
    }
    this.reject(new CountersignError('UpstreamUnavailable', `Forwarding to ${this.origin} failed: ${error.message}.`));
  }

  private settle(): void {
    this.res.off('close', this.onClientClose);
    this.res.off('drain', this.onDrain);
  }
}
