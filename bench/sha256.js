// The hash constructor @smithy/signature-v4 takes (`sha256` option), over node:crypto: the
// signing in the bench clients, the same in each.
import { createHash, createHmac } from 'node:crypto';

export class Sha256 {
  constructor(secret) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', Buffer.from(secret));
  }
  update(data) {
    this.hash.update(typeof data === 'string' ? data : Buffer.from(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength));
  }
  digest() {
    return Promise.resolve(this.hash.digest());
  }
}
