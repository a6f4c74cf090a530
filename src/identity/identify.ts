import { CountersignError } from '../errors.js';
import { parseAmzDate, type SigV4Authorization, type SignableRequest } from '../aws/sigv4.js';
import { verifySignature } from '../aws/sigv4-verify.js';
import type { AgentRegistry } from './registry.js';
import { looksLikeSessionKeyId, type SessionCredentialIssuer } from './session-credentials.js';

/** Who is calling, as proven by a verified SigV4 signature made with an agent key. */
export interface AgentIdentity {
  readonly agent: string;
  readonly accessKeyId: string;
  /** Service and region the agent signed for (the credential scope). */
  readonly service: string;
  readonly region: string;
}

/** SigV4 allows 15 minutes of clock skew (AWS General Reference, "Signature Version 4"). */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/**
 * Looks the key up before any body is read, so unknown callers cost nothing. A session key
 * (CSIA…, from the credential endpoint) is resolved from its session token (X-Amz-Security-Token,
 * in the headers or a presigned URL's query), a static key (CSAK…) from the registry.
 */
export function resolveAgentKey(
  registry: AgentRegistry,
  auth: SigV4Authorization,
  session?: { readonly issuer: SessionCredentialIssuer | undefined; readonly token: string | undefined },
): { agent: string; secret: string } {
  if (looksLikeSessionKeyId(auth.accessKeyId)) {
    if (session?.issuer === undefined) throw new CountersignError('SessionCredentialsInvalid', `The access key ${auth.accessKeyId} is a session key, and this countersign has no credential endpoint configured.`);
    return session.issuer.resolve(auth.accessKeyId, session.token);
  }
  const found = registry.lookup(auth.accessKeyId);
  if (found === undefined) {
    throw new CountersignError('UnknownAgentKey', `The access key ${auth.accessKeyId.slice(0, 24)} is not a countersign agent key.`);
  }
  if (found.key.revokedAt !== undefined) {
    throw new CountersignError('RevokedAgentKey', `The agent key ${auth.accessKeyId} of agent "${found.agent}" was revoked at ${found.key.revokedAt}.`);
  }
  // Static keys expire (agents issue --ttl); a key without expiresAt predates expiry or was issued with --ttl never.
  if (found.key.expiresAt !== undefined && Date.parse(found.key.expiresAt) <= Date.now()) {
    throw new CountersignError('ExpiredAgentKey', `The agent key ${auth.accessKeyId} of agent "${found.agent}" expired at ${found.key.expiresAt}.`);
  }
  return { agent: found.agent, secret: registry.secretFor(auth.accessKeyId) };
}

/** Verifies the signature and the clock; returns the agent it proves, or throws a CountersignError refusal. */
export function verifyAgent(
  request: SignableRequest,
  auth: SigV4Authorization,
  key: { agent: string; secret: string },
  now: number = Date.now(),
): AgentIdentity {
  if (!auth.signedHeaders.includes('host')) throw new CountersignError('MalformedAuthorization', 'SignedHeaders must include host.');
  const signingDate = auth.presigned === undefined ? headerSigningDate(request, auth, now) : presignedSigningDate(auth.presigned, now);
  if (!verifySignature(request, auth, key.secret, signingDate)) {
    throw new CountersignError('SignatureMismatch', `The signature of agent "${key.agent}" does not verify.`);
  }
  return { agent: key.agent, accessKeyId: auth.accessKeyId, service: auth.service, region: auth.region };
}

/** Header auth: X-Amz-Date signed and within the allowed skew of countersign's clock. */
function headerSigningDate(request: SignableRequest, auth: SigV4Authorization, now: number): Date {
  if (!auth.signedHeaders.includes('x-amz-date')) throw new CountersignError('MalformedAuthorization', 'SignedHeaders must include host and x-amz-date.');
  const signingDate = parseAmzDate(request.headers['x-amz-date']);
  if (signingDate === undefined) {
    throw new CountersignError('MalformedAuthorization', 'X-Amz-Date is missing or not in the form YYYYMMDDTHHMMSSZ.');
  }
  const skew = Math.abs(signingDate.getTime() - now);
  if (skew > MAX_CLOCK_SKEW_MS) {
    throw new CountersignError(
      'RequestTimeSkewed',
      `X-Amz-Date ${request.headers['x-amz-date']} is ${Math.round(skew / 60000)} minutes from countersign's clock (${new Date(now).toISOString()}).`,
    );
  }
  return signingDate;
}

/**
 * Presigned URL: valid from X-Amz-Date (up to the allowed skew early) until X-Amz-Expires
 * seconds later, by countersign's clock, as AWS would judge it.
 */
function presignedSigningDate(presigned: NonNullable<SigV4Authorization['presigned']>, now: number): Date {
  const signingDate = parseAmzDate(presigned.longDate);
  if (signingDate === undefined) {
    throw new CountersignError('MalformedAuthorization', 'X-Amz-Date is not in the form YYYYMMDDTHHMMSSZ.');
  }
  if (signingDate.getTime() - now > MAX_CLOCK_SKEW_MS) {
    throw new CountersignError('RequestTimeSkewed', `The presigned URL is dated ${presigned.longDate}, later than countersign's clock (${new Date(now).toISOString()}) allows.`);
  }
  const expiresAt = signingDate.getTime() + presigned.expiresSeconds * 1000;
  if (now > expiresAt) {
    throw new CountersignError('ExpiredPresignedUrl', `The presigned URL expired at ${new Date(expiresAt).toISOString()} (countersign's clock: ${new Date(now).toISOString()}).`);
  }
  return signingDate;
}
