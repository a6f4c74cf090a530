import type { IncomingMessage } from 'node:http';
import type { EntryMode } from '../forward/target.js';

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
