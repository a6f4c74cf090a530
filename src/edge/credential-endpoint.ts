import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AuditEmitter } from '../audit/emitter.js';
import type { Logger } from '../audit/logger.js';
import { CountersignError, isCountersignError } from '../errors.js';
import { agentForClaims } from '../identity/oidc/agent-mapping.js';
import { MAX_TOKEN_BYTES } from '../identity/oidc/jwt.js';
import type { WorkloadClaims, WorkloadTokenVerifier } from '../identity/oidc/verify.js';
import type { SessionCredentialIssuer } from '../identity/session-credentials.js';
import type { WorkloadIdentitySpec } from '../policy/types.js';
import type { LeafCertificateCache } from './leaf-cache.js';
import { issueLeafCertificate, type CertificateAuthority } from './x509.js';

/** Room for a token over the limit, so it is refused with a clear error rather than a bare 431. */
const MAX_HEADER_BYTES = 4 * MAX_TOKEN_BYTES;

/** The path of AWS_CONTAINER_CREDENTIALS_FULL_URI (the SDKs take the URL whole; any path would do). */
export const CREDENTIALS_PATH = '/v1/credentials';

export interface CredentialEndpointDeps {
  readonly verifier: WorkloadTokenVerifier;
  readonly sessions: SessionCredentialIssuer;
  /** The current Directory's `identities:` (a function: a policy reload swaps them). */
  readonly identities: () => readonly WorkloadIdentitySpec[];
  readonly lifetimeSeconds: number;
  readonly audit: AuditEmitter;
  readonly logger: Logger;
}

export interface CredentialTls {
  readonly ca: CertificateAuthority;
  readonly leafCertificates: LeafCertificateCache;
  /** Names the certificate is issued for (SNI); the first also serves clients that send none (an IP URL). */
  readonly names: readonly string[];
}

/**
 * The credential endpoint: the AWS container credential provider protocol, as every AWS SDK
 * speaks it when AWS_CONTAINER_CREDENTIALS_FULL_URI is set. The SDK GETs the URL with the
 * workload's token in Authorization (read from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE at each
 * fetch, so a rotated token is picked up) and expects {AccessKeyId, SecretAccessKey, Token,
 * Expiration}; it fetches again before Expiration. Errors are JSON {Code, Message}, which the
 * JS SDK and the Go SDK report and botocore prints with the response.
 *
 * The SDKs accept plain HTTP only to loopback and the ECS/EKS link-local addresses
 * (docs/deploy.md, "Workload identity"), so off-host this listener speaks HTTPS with a
 * certificate from countersign's CA.
 */
export function createCredentialEndpoint(deps: CredentialEndpointDeps, tls?: CredentialTls): Server {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void answer(deps, req, res);
  };
  if (tls === undefined) return createHttpServer({ maxHeaderSize: MAX_HEADER_BYTES }, handler);
  const [defaultName = 'localhost'] = tls.names;
  const allowed = new Set(tls.names.map((n) => n.toLowerCase()));
  const server = createHttpsServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      minVersion: 'TLSv1.2',
      // Only the configured names get a certificate; anything else is given the default one and fails verification.
      SNICallback: (servername, callback) => {
        try {
          callback(null, tls.leafCertificates.secureContextFor(allowed.has(servername.toLowerCase()) ? servername : defaultName));
        } catch (error) {
          callback(error as Error);
        }
      },
      ...defaultCertificate(tls.ca, defaultName),
    },
    handler,
  );
  // Leaves live 30 days; the default one is renewed daily (SNI ones by the leaf cache).
  const renew = setInterval(() => server.setSecureContext({ minVersion: 'TLSv1.2', ...defaultCertificate(tls.ca, defaultName) }), 24 * 3_600_000).unref();
  server.on('close', () => clearInterval(renew));
  return server;
}

/** Clients that send no SNI (a URL with an IP address) get the first name's certificate. */
function defaultCertificate(ca: CertificateAuthority, name: string): { cert: string; key: string } {
  const leaf = issueLeafCertificate(ca, name);
  return { cert: leaf.certPem, key: leaf.keyPem };
}

async function answer(deps: CredentialEndpointDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const remoteAddress = req.socket.remoteAddress ?? '';
  let claims: WorkloadClaims | undefined;
  let agent: string | undefined;
  try {
    const path = (req.url ?? '').split('?')[0];
    if (path !== CREDENTIALS_PATH) throw new CountersignError('CredentialRequestInvalid', `The credential endpoint is at ${CREDENTIALS_PATH}, not ${String(path).slice(0, 100)}.`);
    if (req.method !== 'GET') throw new CountersignError('CredentialRequestInvalid', `The credential endpoint answers GET, not ${req.method ?? '?'}.`);
    const token = tokenOf(req.headers.authorization);
    claims = await deps.verifier.verify(token);
    const mapped = agentForClaims(claims, deps.identities());
    agent = mapped.agent;
    const issued = deps.sessions.issue(mapped.agent, deps.lifetimeSeconds);
    deps.audit({
      event: 'credentials.issued',
      agent: issued.agent,
      accessKeyId: issued.accessKeyId,
      issuer: claims.issuer,
      subject: claims.subject,
      identity: `${mapped.identity.source.file}:${mapped.identity.source.line}`,
      expiresAt: issued.expiresAt.toISOString(),
      remoteAddress,
    });
    send(res, 200, {
      Code: 'Success',
      Type: 'AWS-HMAC',
      AccessKeyId: issued.accessKeyId,
      SecretAccessKey: issued.secretAccessKey,
      Token: issued.sessionToken,
      // RFC 3339 without fractional seconds, the form every SDK's parser takes.
      Expiration: issued.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      LastUpdated: issued.issuedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
  } catch (error) {
    const refusal = isCountersignError(error) ? error : internal(deps.logger, error);
    deps.audit({
      event: 'credentials.refused',
      errorCode: refusal.code,
      error: refusal.message,
      remoteAddress,
      ...(claims !== undefined && { issuer: claims.issuer, subject: claims.subject }),
      ...(agent !== undefined && { agent }),
    });
    send(res, refusal.entry.status, { Code: refusal.entry.awsCode, Message: refusal.clientMessage, CountersignCode: refusal.code }, { 'x-countersign-error': refusal.code });
  }
}

/** The SDKs send the token file's content as the whole header; a `Bearer ` prefix is accepted too. */
function tokenOf(header: string | undefined): string {
  const value = header?.trim().replace(/^Bearer\s+/i, '') ?? '';
  if (value === '') throw new CountersignError('WorkloadTokenMissing', 'The credential request carries no token in Authorization.');
  return value;
}

function internal(logger: Logger, error: unknown): CountersignError {
  logger.error({ event: 'credentials.error', error: error instanceof Error ? error.message : String(error) }, 'credential endpoint failed');
  return new CountersignError('InternalError', 'The credential endpoint failed.');
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}
