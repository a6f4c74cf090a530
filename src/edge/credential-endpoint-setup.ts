import type { Server } from 'node:http';
import type { AuditEmitter } from '../audit/emitter.js';
import type { Logger } from '../audit/logger.js';
import type { WorkloadIdentityConfig } from '../config/config.js';
import { loadIssuers } from '../identity/oidc/issuers.js';
import { WorkloadTokenVerifier } from '../identity/oidc/verify.js';
import { SessionCredentialIssuer, type AgentStanding } from '../identity/session-credentials.js';
import type { WorkloadIdentitySpec } from '../policy/types.js';
import { createCredentialEndpoint } from './credential-endpoint.js';
import type { LeafCertificateCache } from './leaf-cache.js';
import type { CertificateAuthority } from './x509.js';

export interface WorkloadIdentity {
  /** Verifies session credentials on the proxy port (the pipeline's `sessions`). */
  readonly sessions: SessionCredentialIssuer;
  /** The credential endpoint, when an issuer is configured (not yet listening). */
  readonly server?: Server;
  readonly scheme: 'http' | 'https';
  close(): Promise<void>;
}

/**
 * Builds the credential endpoint from the config: issuers (checked now, so a bad issuers file
 * stops start-up), the token verifier, and the session credential issuer that the proxy port
 * verifies with too. Revocation comes from the agent registry (shared by replicas with Redis).
 */
export function createWorkloadIdentity(
  config: WorkloadIdentityConfig,
  deps: { serverKey: Buffer; registry: AgentStanding; identities: () => readonly WorkloadIdentitySpec[]; audit: AuditEmitter; logger: Logger; ca: CertificateAuthority; leafCertificates: LeafCertificateCache },
): WorkloadIdentity {
  const sessions = new SessionCredentialIssuer(deps.serverKey, deps.registry);
  const issuers = loadIssuers(config);
  if (issuers.length === 0) return { sessions, scheme: 'http', close: () => Promise.resolve() };
  const verifier = new WorkloadTokenVerifier(issuers, {
    onKeyFetchFailure: (issuer, error) => deps.logger.warn({ event: 'oidc.keys_unavailable', issuer, error }, 'could not refresh an issuer\'s signing keys; cached keys stay in use for their lifetime'),
  });
  const tls = config.tlsNames.length > 0 ? { ca: deps.ca, leafCertificates: deps.leafCertificates, names: config.tlsNames } : undefined;
  const server = createCredentialEndpoint({ verifier, sessions, identities: deps.identities, lifetimeSeconds: config.lifetimeSeconds, audit: deps.audit, logger: deps.logger }, tls);
  return { sessions, server, scheme: tls === undefined ? 'http' : 'https', close: () => verifier.close() };
}
