import { CountersignError } from '../../errors.js';
import { issuerFetcher, type JsonFetcher } from './fetch-json.js';
import { DEFAULT_KEY_TIMINGS, IssuerKeys, type KeyCacheTimings, type KeyFetchFailure } from './issuer-keys.js';
import type { IssuerConfig } from './issuers.js';
import { parseJwt, verifyJws } from './jwt.js';

/** Clocks differ a little between the issuer, the agent's node and countersign. */
export const CLOCK_SKEW_SECONDS = 60;

/** What a verified token proves: the issuer, the subject and every claim, for the Directory to map. */
export interface WorkloadClaims {
  readonly issuer: string;
  readonly subject: string;
  /** The token's expiry (seconds since the epoch): issued credentials never outlive it by more than their own lifetime. */
  readonly expiresAt: number;
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface VerifierOptions {
  readonly timings?: KeyCacheTimings;
  readonly onKeyFetchFailure?: KeyFetchFailure;
  /** For tests: fetch documents another way. */
  readonly fetchJson?: JsonFetcher;
  readonly now?: () => number;
}

/**
 * Verifies OIDC-issued JWTs (Kubernetes projected service-account tokens, GitHub Actions,
 * GitLab CI, SPIFFE JWT-SVIDs) from the configured issuers: structure and size, pinned
 * algorithm, signature by a key the issuer publishes, then iss, aud, exp, nbf and iat (RFC 7519
 * section 4.1; RFC 8725). Every failure is a CountersignError; nothing passes on a guess.
 */
export class WorkloadTokenVerifier {
  private readonly issuers = new Map<string, { config: IssuerConfig; keys: IssuerKeys }>();
  private readonly closers: Array<() => Promise<void>> = [];
  private readonly now: () => number;

  constructor(issuers: readonly IssuerConfig[], options: VerifierOptions = {}) {
    this.now = options.now ?? Date.now;
    for (const config of issuers) {
      let fetchJson = options.fetchJson;
      if (fetchJson === undefined) {
        const fetcher = issuerFetcher({ ...(config.caFile !== undefined && { caFile: config.caFile }), ...(config.bearerTokenFile !== undefined && { bearerTokenFile: config.bearerTokenFile }) });
        this.closers.push(() => fetcher.close());
        fetchJson = fetcher.fetch;
      }
      this.issuers.set(config.issuer, { config, keys: new IssuerKeys(config, fetchJson, options.timings ?? DEFAULT_KEY_TIMINGS, options.onKeyFetchFailure, this.now) });
    }
  }

  get issuerNames(): string[] {
    return [...this.issuers.keys()];
  }

  async verify(token: string): Promise<WorkloadClaims> {
    const jwt = parseJwt(token);
    // The unverified iss only picks whose keys to try; a forged iss finds keys that do not verify.
    const iss = jwt.claims.iss;
    const issuer = typeof iss === 'string' ? this.issuers.get(iss) : undefined;
    if (issuer === undefined) {
      throw new CountersignError('WorkloadTokenIssuer', `The workload token's issuer ${JSON.stringify(typeof iss === 'string' ? iss.slice(0, 200) : iss ?? null)} is not one countersign trusts (trusted: ${this.issuerNames.join(', ') || 'none'}).`);
    }
    if (!issuer.config.algorithms.includes(jwt.header.alg)) {
      throw new CountersignError('WorkloadTokenMalformed', `The workload token is signed with ${jwt.header.alg}; ${issuer.config.issuer} is pinned to ${issuer.config.algorithms.join(', ')}.`);
    }
    const candidates = await issuer.keys.candidates(jwt.header.kid);
    if (!candidates.some((key) => verifyJws(jwt, key))) {
      throw new CountersignError('WorkloadTokenSignature', `The workload token's signature does not verify with the keys of ${issuer.config.issuer}.`);
    }
    return checkClaims(jwt.claims, issuer.config, this.now() / 1000);
  }

  async close(): Promise<void> {
    await Promise.all(this.closers.map((close) => close()));
  }
}

/** The registered claims, checked once the signature holds. */
function checkClaims(claims: Readonly<Record<string, unknown>>, issuer: IssuerConfig, nowSeconds: number): WorkloadClaims {
  const { exp, nbf, iat, sub, aud } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new CountersignError('WorkloadTokenMalformed', 'The workload token has no expiry (exp); countersign accepts only tokens that expire.');
  if (nowSeconds > exp + CLOCK_SKEW_SECONDS) {
    throw new CountersignError('WorkloadTokenExpired', `The workload token expired at ${new Date(exp * 1000).toISOString()} (countersign's clock: ${new Date(nowSeconds * 1000).toISOString()}).`);
  }
  for (const [name, value] of [['nbf', nbf], ['iat', iat]] as const) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new CountersignError('WorkloadTokenMalformed', `The workload token's ${name} is not a number.`);
    if (value > nowSeconds + CLOCK_SKEW_SECONDS) {
      throw new CountersignError('WorkloadTokenNotYetValid', `The workload token is not valid before ${new Date(value * 1000).toISOString()} (${name}; countersign's clock: ${new Date(nowSeconds * 1000).toISOString()}).`);
    }
  }
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
  if (!audiences.some((a) => issuer.audiences.includes(a))) {
    throw new CountersignError('WorkloadTokenAudience', `The workload token is for audience ${JSON.stringify(audiences.map((a) => a.slice(0, 100)))}, not ${issuer.audiences.join(' or ')}.`);
  }
  if (typeof sub !== 'string' || sub === '') throw new CountersignError('WorkloadTokenMalformed', 'The workload token names no subject (sub).');
  return { issuer: issuer.issuer, subject: sub, expiresAt: exp, claims };
}
