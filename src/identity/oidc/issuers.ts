import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../config/config.js';
import { isSupportedAlgorithm, type JwsAlgorithm } from './jwt.js';

/** One trusted OIDC issuer: whose tokens are accepted, for which audiences, signed how, with keys from where. */
export interface IssuerConfig {
  /** Exactly the token's `iss` (and the discovery document's `issuer`). */
  readonly issuer: string;
  /** The token's `aud` must name one of these (Kubernetes: the projected token's `audience`). */
  readonly audiences: readonly string[];
  /** Pinned algorithms; a token naming another is refused before any key is tried. */
  readonly algorithms: readonly JwsAlgorithm[];
  /** A static JWKS file (air-gapped clusters): no discovery, no fetch; re-read when it changes. */
  readonly jwksFile?: string;
  /** The JWKS URL, when discovery is not wanted (or the discovery document names an unreachable one). */
  readonly jwksUri?: string;
  /** PEM file of CAs trusted for discovery and JWKS fetches (Kubernetes: the service account's ca.crt). */
  readonly caFile?: string;
  /** A bearer token file sent with discovery and JWKS fetches (a Kubernetes API server that requires it). */
  readonly bearerTokenFile?: string;
}

export const DEFAULT_ALGORITHMS: readonly JwsAlgorithm[] = ['RS256', 'ES256'];
const ISSUER_KEYS = new Set(['issuer', 'audiences', 'algorithms', 'jwksFile', 'jwksUri', 'caFile', 'bearerTokenFile']);

/** The raw settings (config.ts keeps them as strings; they are parsed here, at start-up). */
export interface WorkloadIdentitySettings {
  readonly issuersFile?: string;
  readonly issuer?: string;
  readonly audiences?: string;
  readonly jwksFile?: string;
}

/**
 * Issuers from COUNTERSIGN_OIDC_ISSUERS_FILE (YAML or JSON: `issuers: [...]`), or the one issuer of
 * COUNTERSIGN_OIDC_ISSUER with COUNTERSIGN_OIDC_AUDIENCES (and COUNTERSIGN_OIDC_JWKS_FILE). None: no
 * credential endpoint.
 */
export function loadIssuers(settings: WorkloadIdentitySettings): IssuerConfig[] {
  if (settings.issuersFile !== undefined && settings.issuer !== undefined) {
    throw new ConfigError('Set COUNTERSIGN_OIDC_ISSUERS_FILE or COUNTERSIGN_OIDC_ISSUER, not both.');
  }
  if (settings.issuersFile !== undefined) return parseIssuersFile(settings.issuersFile);
  if (settings.issuer === undefined) {
    if (settings.audiences !== undefined || settings.jwksFile !== undefined) throw new ConfigError('COUNTERSIGN_OIDC_AUDIENCES and COUNTERSIGN_OIDC_JWKS_FILE need COUNTERSIGN_OIDC_ISSUER.');
    return [];
  }
  const audiences = (settings.audiences ?? '').split(',').map((a) => a.trim()).filter((a) => a !== '');
  return [validateIssuer({ issuer: settings.issuer, audiences, ...(settings.jwksFile !== undefined && { jwksFile: settings.jwksFile }) }, 'COUNTERSIGN_OIDC_ISSUER')];
}

function parseIssuersFile(path: string): IssuerConfig[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`COUNTERSIGN_OIDC_ISSUERS_FILE=${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const list = (doc as { issuers?: unknown } | null)?.issuers;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`${path}: expected "issuers:" with a list of issuers.`);
  const issuers = list.map((entry, i) => validateIssuer(entry, `${path} issuers[${i}]`));
  const seen = new Set<string>();
  for (const { issuer } of issuers) {
    if (seen.has(issuer)) throw new ConfigError(`${path}: issuer ${issuer} is listed twice.`);
    seen.add(issuer);
  }
  return issuers;
}

function validateIssuer(entry: unknown, where: string): IssuerConfig {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new ConfigError(`${where}: expected a mapping with issuer and audiences.`);
  const e = entry as Record<string, unknown>;
  const unknown = Object.keys(e).filter((k) => !ISSUER_KEYS.has(k));
  if (unknown.length > 0) throw new ConfigError(`${where}: unknown key ${unknown.join(', ')}; known: ${[...ISSUER_KEYS].join(', ')}.`);
  const issuer = e.issuer;
  if (typeof issuer !== 'string' || !secureUrl(issuer)) {
    throw new ConfigError(`${where}: issuer must be an https URL (http only on loopback), found ${JSON.stringify(issuer)}.`);
  }
  const audiences = stringList(e.audiences, `${where} audiences`);
  if (audiences.length === 0) throw new ConfigError(`${where}: name at least one audience (the token's aud), e.g. countersign.`);
  const algorithms = e.algorithms === undefined ? DEFAULT_ALGORITHMS : stringList(e.algorithms, `${where} algorithms`).map((alg) => {
    if (!isSupportedAlgorithm(alg)) throw new ConfigError(`${where}: algorithm "${alg}" is not accepted; use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA.`);
    return alg;
  });
  const optional = (key: 'jwksFile' | 'jwksUri' | 'caFile' | 'bearerTokenFile') => {
    const value = e[key];
    if (value === undefined) return {};
    if (typeof value !== 'string' || value === '') throw new ConfigError(`${where}: ${key} must be a string.`);
    return { [key]: value };
  };
  const config: IssuerConfig = { issuer, audiences, algorithms, ...optional('jwksFile'), ...optional('jwksUri'), ...optional('caFile'), ...optional('bearerTokenFile') };
  if (config.jwksUri !== undefined && !secureUrl(config.jwksUri)) throw new ConfigError(`${where}: jwksUri must be an https URL (http only on loopback).`);
  if (config.jwksFile !== undefined && config.jwksUri !== undefined) throw new ConfigError(`${where}: jwksFile and jwksUri exclude each other.`);
  return config;
}

function stringList(value: unknown, what: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((v): v is string => typeof v === 'string' && v !== '')) throw new ConfigError(`${what}: expected a list of strings.`);
  return list;
}

/** HTTPS, or plain HTTP to a loopback address (a test issuer, a local relay): keys are never fetched in the clear over a network. */
export function secureUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}
