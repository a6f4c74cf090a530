/**
 * Leaf certificates by hostname, kept as ready TLS contexts. Minting a leaf is cheap (ECDSA
 * P-256) but building a SecureContext parses PEM into OpenSSL objects on every call, and an agent
 * talks to the same few AWS endpoints over and over, so both are cached together.
 */

import { createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { issueLeafCertificate } from './x509.js';
import type { CertificateAuthority } from './x509.js';

export interface LeafCertificateCacheOptions {
  /** Most hostnames kept; the least recently used goes first. Default 1000. */
  maxEntries?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

interface Entry {
  context: SecureContext;
  /** When to mint a replacement: a day before the leaf expires, so no client sees it lapse mid-connection. */
  renewAt: number;
}

const RENEW_BEFORE_MS = 24 * 60 * 60 * 1000;
const DEFAULT_MAX_ENTRIES = 1000;

export class LeafCertificateCache {
  readonly #ca: CertificateAuthority;
  readonly #maxEntries: number;
  readonly #now: () => Date;
  /** A Map iterates in insertion order, so re-inserting on every hit keeps it in LRU order. */
  readonly #entries = new Map<string, Entry>();
  #hits = 0;
  #misses = 0;

  constructor(ca: CertificateAuthority, options: LeafCertificateCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, not ${maxEntries}`);
    this.#ca = ca;
    this.#maxEntries = maxEntries;
    this.#now = options.now ?? ((): Date => new Date());
  }

  get size(): number {
    return this.#entries.size;
  }

  get hits(): number {
    return this.#hits;
  }

  get misses(): number {
    return this.#misses;
  }

  /**
   * The TLS context to present for `hostname` (case-insensitive). Throws if it is not a DNS name
   * or IP literal, so callers can refuse the CONNECT.
   */
  secureContextFor(hostname: string): SecureContext {
    const key = hostname.toLowerCase();
    const now = this.#now();
    const cached = this.#entries.get(key);
    if (cached !== undefined) {
      this.#entries.delete(key);
      if (now.getTime() < cached.renewAt) {
        this.#hits++;
        this.#entries.set(key, cached);
        return cached.context;
      }
    }
    // Counted after issuing, so a refused hostname is neither a hit nor a miss.
    const entry = this.#issue(key, now);
    this.#misses++;
    this.#entries.set(key, entry);
    this.#evict();
    return entry.context;
  }

  #issue(hostname: string, now: Date): Entry {
    const leaf = issueLeafCertificate(this.#ca, hostname, now);
    // Leaf only in the chain: clients are configured to trust the CA itself.
    const context = createSecureContext({ cert: leaf.certPem, key: leaf.keyPem, minVersion: 'TLSv1.2' });
    return { context, renewAt: leaf.notAfter.getTime() - RENEW_BEFORE_MS };
  }

  #evict(): void {
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) return;
      this.#entries.delete(key);
    }
  }
}
