import { constants, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { CountersignError } from '../../errors.js';

/**
 * Compact JWS parsing and signature checks for OIDC-issued tokens (RFC 7515, RFC 7519). Only
 * asymmetric algorithms are accepted, named by the token and pinned per issuer: `none` and the
 * HMAC family are refused before any key is looked at, so a public key can never be used as an
 * HMAC secret (the "alg confusion" attack, RFC 8725 section 2.1).
 */

/** Kubernetes, GitHub and GitLab tokens are 1-2 KiB; 16 KiB leaves room for rich claims and bounds the work. */
export const MAX_TOKEN_BYTES = 16 * 1024;

/** Algorithm → how node:crypto verifies it. ES* signatures are the raw R||S form (RFC 7518 section 3.4). */
const ALGORITHMS = {
  RS256: { hash: 'sha256', kty: 'RSA' },
  RS384: { hash: 'sha384', kty: 'RSA' },
  RS512: { hash: 'sha512', kty: 'RSA' },
  PS256: { hash: 'sha256', kty: 'RSA', pss: true },
  PS384: { hash: 'sha384', kty: 'RSA', pss: true },
  PS512: { hash: 'sha512', kty: 'RSA', pss: true },
  ES256: { hash: 'sha256', kty: 'EC', crv: 'P-256' },
  ES384: { hash: 'sha384', kty: 'EC', crv: 'P-384' },
  ES512: { hash: 'sha512', kty: 'EC', crv: 'P-521' },
  EdDSA: { hash: undefined, kty: 'OKP' },
} as const satisfies Record<string, { hash: string | undefined; kty: string; crv?: string; pss?: boolean }>;

export type JwsAlgorithm = keyof typeof ALGORITHMS;
export const SUPPORTED_ALGORITHMS = Object.keys(ALGORITHMS) as JwsAlgorithm[];

export function isSupportedAlgorithm(alg: string): alg is JwsAlgorithm {
  return Object.hasOwn(ALGORITHMS, alg);
}

export interface ParsedJwt {
  readonly header: { readonly alg: JwsAlgorithm; readonly kid?: string; readonly typ?: string };
  readonly claims: Readonly<Record<string, unknown>>;
  /** `header.payload`, the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

const malformed = (why: string) => new CountersignError('WorkloadTokenMalformed', `The workload token ${why}.`);
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Splits and decodes a compact JWS; refuses anything that is not a signed JWT with an asymmetric algorithm. */
export function parseJwt(token: string): ParsedJwt {
  if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) throw malformed(`is larger than ${MAX_TOKEN_BYTES} bytes`);
  const parts = token.split('.');
  // Five parts is JWE (an encrypted token): never accepted, as its claims are not signed by the issuer's key.
  if (parts.length !== 3) throw malformed(`has ${parts.length} dot-separated parts, expected 3 (header.payload.signature)`);
  const [headerPart = '', payloadPart = '', signaturePart = ''] = parts;
  if (![headerPart, payloadPart, signaturePart].every((p) => BASE64URL.test(p))) throw malformed('is not base64url');
  const header = decodeObject(headerPart, 'header');
  const alg = header.alg;
  if (typeof alg !== 'string') throw malformed('header names no alg');
  if (alg.toLowerCase() === 'none') throw malformed('is unsigned (alg "none")');
  if (/^HS/i.test(alg)) throw malformed(`uses ${alg}, a shared-secret algorithm; OIDC issuers sign with their private key (RS256, ES256, ...)`);
  if (!isSupportedAlgorithm(alg)) throw malformed(`uses alg "${alg.slice(0, 20)}", expected one of ${SUPPORTED_ALGORITHMS.join(', ')}`);
  if (header.crit !== undefined) throw malformed('header has crit extensions countersign does not understand');
  if (header.kid !== undefined && typeof header.kid !== 'string') throw malformed('header kid is not a string');
  if (signaturePart === '') throw malformed('has an empty signature');
  const claims = decodeObject(payloadPart, 'payload');
  return {
    header: { alg, ...(typeof header.kid === 'string' && { kid: header.kid }), ...(typeof header.typ === 'string' && { typ: header.typ }) },
    claims,
    signingInput: `${headerPart}.${payloadPart}`,
    signature: Buffer.from(signaturePart, 'base64url'),
  };
}

function decodeObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw malformed(`${what} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw malformed(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** A public key from a JWKS, ready to verify with. */
export interface VerificationKey {
  readonly kid?: string;
  readonly kty: string;
  /** The JWK's own `alg`, when it names one: the key is then used for that algorithm only. */
  readonly alg?: string;
  readonly key: KeyObject;
}

/** Turns one JWK into a key; undefined for private, symmetric, encryption-only or broken keys (skipped, not fatal). */
export function importJwk(jwk: unknown): VerificationKey | undefined {
  if (jwk === null || typeof jwk !== 'object') return undefined;
  const k = jwk as Record<string, unknown>;
  if (k.kty !== 'RSA' && k.kty !== 'EC' && k.kty !== 'OKP') return undefined; // "oct" keys are shared secrets
  if (k.use !== undefined && k.use !== 'sig') return undefined;
  if (k.d !== undefined) return undefined; // a private key published by mistake is not trusted either
  try {
    const key = createPublicKey({ key: k, format: 'jwk' });
    // RSA keys under 2048 bits are refused (NIST SP 800-131A; RFC 7518 section 3.3 requires at least 2048).
    if (k.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return undefined;
    return { kty: k.kty, key, ...(typeof k.kid === 'string' && { kid: k.kid }), ...(typeof k.alg === 'string' && { alg: k.alg }) };
  } catch {
    return undefined;
  }
}

/** Does `key` fit `alg` (type, curve, the JWK's own alg) and does the signature verify? */
export function verifyJws(jwt: ParsedJwt, key: VerificationKey): boolean {
  const spec: { hash: string | undefined; kty: string; crv?: string; pss?: boolean } = ALGORITHMS[jwt.header.alg];
  if (key.kty !== spec.kty) return false;
  if (key.alg !== undefined && key.alg !== jwt.header.alg) return false;
  if (spec.crv !== undefined && key.key.asymmetricKeyDetails?.namedCurve !== nodeCurve(spec.crv)) return false;
  const data = Buffer.from(jwt.signingInput);
  try {
    if (spec.kty === 'EC') return verifySignature(spec.hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, jwt.signature);
    if (spec.pss === true) return verifySignature(spec.hash, data, { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, jwt.signature);
    return verifySignature(spec.hash ?? null, data, key.key, jwt.signature);
  } catch {
    return false;
  }
}

function nodeCurve(crv: string): string {
  return crv === 'P-256' ? 'prime256v1' : crv === 'P-384' ? 'secp384r1' : 'secp521r1';
}
