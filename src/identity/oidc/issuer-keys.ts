import { readFileSync, statSync } from 'node:fs';
import { CountersignError } from '../../errors.js';
import { importJwk, type VerificationKey } from './jwt.js';
import type { JsonFetcher } from './fetch-json.js';
import { secureUrl, type IssuerConfig } from './issuers.js';

export interface KeyCacheTimings {
  /** Keys older than this are refetched before use (a soft refresh: a failure keeps the old ones). */
  readonly refreshMs: number;
  /** How long fetched keys stay usable while the issuer cannot be reached. */
  readonly lifetimeMs: number;
  /** The same unknown kid triggers a refetch at most this often. */
  readonly minRefetchMs: number;
  /** Any unknown kid triggers a refetch at most this often: a flood of made-up kids costs the issuer one fetch per interval. */
  readonly refetchFloorMs: number;
}

export const DEFAULT_KEY_TIMINGS: KeyCacheTimings = { refreshMs: 10 * 60_000, lifetimeMs: 24 * 3_600_000, minRefetchMs: 30_000, refetchFloorMs: 1_000 };
/** Unknown kids remembered for the per-kid limit (bounded: made-up kids must not grow memory). */
const REMEMBERED_KIDS = 1_000;

/** Told when a fetch fails (for the log; the caller decides what to refuse). */
export type KeyFetchFailure = (issuer: string, error: string) => void;

/**
 * One issuer's signing keys: discovered (`/.well-known/openid-configuration` → `jwks_uri`,
 * OpenID Connect Discovery 1.0 section 4) or read from a static JWKS file, cached, refreshed,
 * and refetched when a token names a kid not seen yet (the issuer rotated its keys). Keys
 * outlive a failed refresh for `lifetimeMs`, so an issuer that is down does not stop agents
 * whose tokens are signed by keys already known. A kid that is still unknown fails closed.
 */
export class IssuerKeys {
  private keys: readonly VerificationKey[] = [];
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private fileVersion = '';
  private inFlight: Promise<void> | undefined;
  private lastError = '';
  /** When a refetch was last made for each unknown kid. */
  private readonly refetchedFor = new Map<string, number>();

  constructor(
    private readonly issuer: IssuerConfig,
    private readonly fetchJson: JsonFetcher,
    private readonly timings: KeyCacheTimings = DEFAULT_KEY_TIMINGS,
    private readonly onFailure: KeyFetchFailure = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** The keys a token signed with `kid` (or with no kid) may be verified with; throws when none can be had. */
  async candidates(kid: string | undefined): Promise<readonly VerificationKey[]> {
    const now = this.now();
    if (now - this.fetchedAt >= this.timings.refreshMs) await this.refresh(now);
    let found = this.matching(kid);
    if (found.length === 0 && this.mayRefetchFor(kid ?? '')) {
      await this.refresh(this.now());
      found = this.matching(kid);
    }
    if (this.usableKeys().length === 0) {
      throw new CountersignError('WorkloadKeysUnavailable', `countersign has no signing keys of ${this.issuer.issuer}${this.lastError === '' ? '' : ` (${this.lastError})`}.`);
    }
    if (found.length === 0) {
      throw new CountersignError('WorkloadTokenSignature', `The workload token names signing key ${kid === undefined ? '(none)' : JSON.stringify(kid.slice(0, 64))}, which ${this.issuer.issuer} does not publish.`);
    }
    return found;
  }

  /** A rotated key is fetched the first time a token names it; repeats of the same unknown kid, and floods of new ones, are bounded. */
  private mayRefetchFor(kid: string): boolean {
    const now = this.now();
    if (now - this.attemptedAt < this.timings.refetchFloorMs) return false;
    const last = this.refetchedFor.get(kid);
    if (last !== undefined && now - last < this.timings.minRefetchMs) return false;
    this.refetchedFor.delete(kid);
    if (this.refetchedFor.size >= REMEMBERED_KIDS) this.refetchedFor.delete(this.refetchedFor.keys().next().value ?? '');
    this.refetchedFor.set(kid, now);
    return true;
  }

  private matching(kid: string | undefined): readonly VerificationKey[] {
    const keys = this.usableKeys();
    // No kid: an issuer with one key often omits it; every key is tried (RFC 7515 section 4.1.4).
    return kid === undefined ? keys : keys.filter((k) => k.kid === kid);
  }

  private usableKeys(): readonly VerificationKey[] {
    if (this.issuer.jwksFile !== undefined) return this.keys; // a static file does not go stale
    return this.now() - this.fetchedAt < this.timings.lifetimeMs ? this.keys : [];
  }

  /** One fetch at a time per issuer; concurrent callers wait for the same one. */
  private refresh(now: number): Promise<void> {
    this.inFlight ??= this.load(now).finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async load(now: number): Promise<void> {
    this.attemptedAt = now;
    try {
      const jwks = this.issuer.jwksFile !== undefined ? this.readFile(this.issuer.jwksFile) : await this.fetchJwks();
      if (jwks === undefined) {
        this.fetchedAt = now;
        return;
      }
      const keys = parseJwks(jwks);
      if (keys.length === 0) throw new Error('the JWKS holds no usable public signing key');
      this.keys = keys;
      this.fetchedAt = now;
      this.lastError = '';
    } catch (error) {
      this.lastError = error instanceof Error ? error.message : String(error);
      this.onFailure(this.issuer.issuer, this.lastError);
    }
  }

  /** The file's JSON, or undefined when it has not changed since last read. */
  private readFile(path: string): unknown {
    const stat = statSync(path);
    const version = `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
    if (version === this.fileVersion && this.keys.length > 0) return undefined;
    const json = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    this.fileVersion = version;
    return json;
  }

  private async fetchJwks(): Promise<unknown> {
    return this.fetchJson(this.issuer.jwksUri ?? (await this.discover()));
  }

  private async discover(): Promise<string> {
    const url = `${this.issuer.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const doc = (await this.fetchJson(url)) as { issuer?: unknown; jwks_uri?: unknown } | null;
    // OpenID Connect Discovery 1.0 section 4.3: the document's issuer must be exactly the one asked about.
    if (doc?.issuer !== this.issuer.issuer) throw new Error(`${url} names issuer ${JSON.stringify(doc?.issuer)}, not ${this.issuer.issuer}`);
    if (typeof doc.jwks_uri !== 'string') throw new Error(`${url} names no jwks_uri`);
    if (!secureUrl(doc.jwks_uri)) throw new Error(`${url} names jwks_uri ${doc.jwks_uri.slice(0, 200)}, which is not https`);
    return doc.jwks_uri;
  }
}

function parseJwks(jwks: unknown): VerificationKey[] {
  const list = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('the JWKS has no "keys" list');
  return list.slice(0, 100).map(importJwk).filter((k): k is VerificationKey => k !== undefined);
}
