/**
 * The hash constructor smithy's SignatureV4 takes (`sha256`), backed by node:crypto: SHA-256,
 * or HMAC-SHA256 when constructed with a key. Node hashes strings and typed arrays as they
 * are, so nothing is copied on the way in; a digest comes back through hex, which is cheaper
 * than the Buffer node:crypto allocates for a binary digest.
 */
import { createHash, createHmac, type Hash as NodeHash, type Hmac } from 'node:crypto';
import type { Hash, SourceData } from '@smithy/types';

export class NodeSha256 implements Hash {
  private readonly hash: NodeHash | Hmac;

  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBinary(secret));
  }

  update(data: SourceData): void {
    this.hash.update(toBinary(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(Buffer.from(this.hash.digest('hex'), 'hex'));
  }
}

function toBinary(data: SourceData): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}
