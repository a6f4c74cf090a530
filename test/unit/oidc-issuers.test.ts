// Issuer settings (COUNTERSIGN_OIDC_* and the issuers file) and the credential endpoint's
// settings: what start-up accepts and the message for what it refuses.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { loadIssuers } from '../../src/identity/oidc/issuers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cs-issuers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(text: string): string {
  const p = path.join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(p, text);
  return p;
}

const refusal = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('issuers', () => {
  it('takes one issuer from the environment, with the default algorithms', () => {
    expect(loadIssuers({ issuer: 'https://issuer.example', audiences: 'countersign, other' })).toEqual([{ issuer: 'https://issuer.example', audiences: ['countersign', 'other'], algorithms: ['RS256', 'ES256'] }]);
    expect(loadIssuers({})).toEqual([]);
  });

  it('takes several from a file', () => {
    const issuers = loadIssuers({ issuersFile: file('issuers:\n  - { issuer: "https://a.example", audiences: [x], algorithms: [ES384], jwksFile: /k.json }\n  - { issuer: "http://127.0.0.1:9000", audiences: x, caFile: /ca.pem, bearerTokenFile: /t }\n') });
    expect(issuers).toEqual([
      { issuer: 'https://a.example', audiences: ['x'], algorithms: ['ES384'], jwksFile: '/k.json' },
      { issuer: 'http://127.0.0.1:9000', audiences: ['x'], algorithms: ['RS256', 'ES256'], caFile: '/ca.pem', bearerTokenFile: '/t' },
    ]);
  });

  it('refuses an issuer whose keys would travel in the clear, no audience, unknown keys, shared-secret algorithms, duplicates', () => {
    expect(refusal(() => loadIssuers({ issuer: 'http://issuer.example', audiences: 'x' }))).toMatch(/issuer must be an https URL \(http only on loopback\)/);
    expect(refusal(() => loadIssuers({ issuer: 'https://issuer.example' }))).toMatch(/name at least one audience/);
    expect(refusal(() => loadIssuers({ issuersFile: file('issuers:\n  - { issuer: "https://a.example", audiences: [x], audience: y }\n') }))).toMatch(/unknown key audience/);
    expect(refusal(() => loadIssuers({ issuersFile: file('issuers:\n  - { issuer: "https://a.example", audiences: [x], algorithms: [HS256] }\n') }))).toMatch(/algorithm "HS256" is not accepted/);
    expect(refusal(() => loadIssuers({ issuersFile: file('issuers:\n  - { issuer: "https://a.example", audiences: [x], algorithms: [none] }\n') }))).toMatch(/algorithm "none" is not accepted/);
    expect(refusal(() => loadIssuers({ issuersFile: file('issuers:\n  - { issuer: "https://a.example", audiences: [x], jwksUri: "http://keys.example/jwks" }\n') }))).toMatch(/jwksUri must be an https URL/);
    expect(refusal(() => loadIssuers({ issuersFile: file('issuers:\n  - { issuer: "https://a.example", audiences: [x] }\n  - { issuer: "https://a.example", audiences: [y] }\n') }))).toMatch(/listed twice/);
    expect(refusal(() => loadIssuers({ issuersFile: file('nothing: here\n') }))).toMatch(/expected "issuers:"/);
    expect(refusal(() => loadIssuers({ issuersFile: '/no/such/file', issuer: 'https://a.example' }))).toMatch(/not both/);
    expect(refusal(() => loadIssuers({ audiences: 'x' }))).toMatch(/need COUNTERSIGN_OIDC_ISSUER/);
  });
});

describe('credential endpoint settings', () => {
  it('defaults: loopback, plain HTTP, one hour', () => {
    expect(loadConfig({}).workloadIdentity).toEqual({ listen: { host: '127.0.0.1', port: 8082 }, tlsNames: [], lifetimeSeconds: 3600 });
  });

  it('reads the listener, TLS names and lifetime; refuses a lifetime out of bounds', () => {
    const config = loadConfig({ COUNTERSIGN_CREDENTIALS_LISTEN: '0.0.0.0:8443', COUNTERSIGN_CREDENTIALS_TLS_NAMES: 'a.svc, b.svc', COUNTERSIGN_CREDENTIAL_LIFETIME_SECONDS: '900', COUNTERSIGN_OIDC_ISSUER: 'https://i.example' });
    expect(config.workloadIdentity).toEqual({ issuer: 'https://i.example', listen: { host: '0.0.0.0', port: 8443 }, tlsNames: ['a.svc', 'b.svc'], lifetimeSeconds: 900 });
    for (const value of ['14', '43201']) expect(refusal(() => loadConfig({ COUNTERSIGN_CREDENTIAL_LIFETIME_SECONDS: value }))).toMatch(/expected 15 to 43200/);
  });
});
