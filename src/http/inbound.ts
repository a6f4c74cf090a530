import type { IncomingMessage, ServerResponse } from 'node:http';

/** How a request reached countersign; 'host' is a non-AWS host passed on by host rules. */
export type EntryMode = 'intercept' | 'absolute' | 'endpoint' | 'host';

/** A request as it reached countersign, before anything is decided about it. */
export interface InboundRequest {
  readonly id: string;
  readonly startedAt: bigint;
  readonly mode: EntryMode;
  readonly scheme: 'http' | 'https';
  readonly method: string;
  /** Host header as the client sent it (`host[:port]`): the value the agent signed. */
  readonly authority: string;
  /** Lower-case host name without port. */
  readonly host: string;
  /** Path exactly as on the wire (still percent-encoded), never normalised. */
  readonly rawPath: string;
  /** Query string as on the wire, without the `?`. */
  readonly rawQuery: string;
  readonly remoteAddress: string;
  readonly message: IncomingMessage;
}

/** Splits an origin-form request target (`/path?query`) without decoding or normalising it. */
export function splitTarget(target: string): { rawPath: string; rawQuery: string } {
  const q = target.indexOf('?');
  return q === -1 ? { rawPath: target, rawQuery: '' } : { rawPath: target.slice(0, q), rawQuery: target.slice(q + 1) };
}

const continued = new WeakSet<IncomingMessage>();

/**
 * `Expect: 100-continue`: the client holds its body back until told to send it. countersign
 * tells it once the body is about to be read (to verify, classify or forward it), so a refused
 * request is answered before the client has uploaded anything. Safe to call more than once.
 */
export function acceptBody(message: IncomingMessage, res: ServerResponse): void {
  if (continued.has(message) || message.headers.expect?.toLowerCase() !== '100-continue' || res.headersSent) return;
  continued.add(message);
  res.writeContinue();
}
