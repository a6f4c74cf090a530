// A test OIDC issuer on loopback: its own signing keys (RSA and EC), a discovery document and a
// JWKS served over HTTP, key rotation, an outage switch, and a signer for tokens good and bad.
import { createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface IssuerKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyObject;
  publicJwk: Record<string, unknown>;
}

export interface TestIssuer {
  /** http://127.0.0.1:PORT: the iss of its tokens. */
  readonly url: string;
  /** How many times the JWKS was fetched. */
  readonly jwksFetches: number;
  /** The current signing key's kid. */
  readonly kid: string;
  /** A token signed by the current key; claims override the defaults (iss, aud, sub, iat, nbf, exp). */
  token(claims?: Record<string, unknown>, header?: Record<string, unknown>): string;
  /** Signs with a key the JWKS does not publish (yet), under a kid of choice. */
  tokenWithUnpublishedKey(claims?: Record<string, unknown>, kid?: string): string;
  /** A new current key, published next to the old ones (as issuers rotate). `retire` drops the old keys. */
  rotate(options?: { retire?: boolean; alg?: 'RS256' | 'ES256' }): string;
  /** Discovery and JWKS answer 503 while down. */
  setDown(down: boolean): void;
  /** The JWKS as served, for a static jwksFile. */
  jwks(): { keys: Array<Record<string, unknown>> };
  /** The current key's public JWK (for the HS256-with-public-key forgery). */
  publicJwk(): Record<string, unknown>;
  close(): Promise<void>;
}

export const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function newKey(alg: 'RS256' | 'ES256'): IssuerKey {
  const kid = randomUUID();
  const { privateKey, publicKey } = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, alg, privateKey, publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
}

function signJwt(key: { alg: string; privateKey: KeyObject }, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  const signature = key.alg === 'ES256' ? sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }) : sign('sha256', Buffer.from(input), key.privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

/** HS256 over the token with `secret` as the HMAC key: the alg-confusion forgery. */
export function hs256Token(secret: string, claims: Record<string, unknown>, kid?: string): string {
  const input = `${b64url({ alg: 'HS256', typ: 'JWT', ...(kid !== undefined && { kid }) })}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export async function startTestIssuer(options: { audience?: string } = {}): Promise<TestIssuer> {
  let keys: IssuerKey[] = [newKey('RS256')];
  let down = false;
  let jwksFetches = 0;
  let url = '';
  const server: Server = createServer((req, res) => {
    if (down) {
      res.writeHead(503).end('down');
      return;
    }
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: url, jwks_uri: `${url}/keys`, id_token_signing_alg_values_supported: ['RS256', 'ES256'] }));
      return;
    }
    if (req.url === '/keys') {
      jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const current = () => keys[keys.length - 1] as IssuerKey;
  const claimsOf = (claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: url, aud: options.audience ?? 'countersign', sub: 'system:serviceaccount:agents:report-bot', iat: now, nbf: now, exp: now + 3600, ...claims };
  };
  return {
    url,
    get jwksFetches() {
      return jwksFetches;
    },
    get kid() {
      return current().kid;
    },
    token: (claims = {}, header = {}) => signJwt(current(), { alg: current().alg, typ: 'JWT', kid: current().kid, ...header }, claimsOf(claims)),
    tokenWithUnpublishedKey: (claims = {}, kid = randomUUID()) => signJwt(newKey('RS256'), { alg: 'RS256', typ: 'JWT', kid }, claimsOf(claims)),
    rotate: ({ retire = false, alg = 'RS256' } = {}) => {
      const key = newKey(alg);
      keys = retire ? [key] : [...keys, key];
      return key.kid;
    },
    setDown: (value) => {
      down = value;
    },
    jwks: () => ({ keys: keys.map((k) => k.publicJwk) }),
    publicJwk: () => current().publicJwk,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
