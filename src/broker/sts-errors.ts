import { STSServiceException } from '@aws-sdk/client-sts';

/**
 * Why a call to STS failed, in the terms an operator acts on. Only `refused` is about the role
 * (its trust policy, the session policy's size); the others are about countersign's own
 * credentials or its path to STS, and must never be reported as the rule's fault.
 */
export type StsFailure = 'no_credentials' | 'expired' | 'invalid_credentials' | 'unreachable' | 'unavailable' | 'refused';

const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired', 'RequestExpired']);
const INVALID = new Set(['InvalidClientTokenId', 'SignatureDoesNotMatch', 'UnrecognizedClientException', 'InvalidAccessKeyId', 'IncompleteSignature', 'MissingAuthenticationToken', 'InvalidToken']);
const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|socket hang up|timed? ?out|timeout|aborted/i;

export function classifyStsFailure(error: unknown): StsFailure {
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  // The provider chain found nothing (env, profile, web identity, container, instance).
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) return 'no_credentials';
  if (EXPIRED.has(name) || /expired/i.test(name)) return 'expired';
  if (INVALID.has(name)) return 'invalid_credentials';
  if (error instanceof STSServiceException) {
    if (error.$fault === 'server' || name === 'Throttling' || name === 'ThrottlingException') return 'unavailable';
    return 'refused';
  }
  if (name === 'AbortError' || name === 'TimeoutError' || NETWORK.test(`${name} ${message} ${(error as { code?: string }).code ?? ''}`)) return 'unreachable';
  return 'unreachable';
}

/** What each failure means, for logs, /readyz and the client's error message. */
export function describeStsFailure(failure: StsFailure, detail: string): string {
  switch (failure) {
    case 'no_credentials':
      return `countersign has no AWS credentials of its own: the AWS provider chain (environment, shared config, web identity/IRSA, container and instance metadata) found none (${detail})`;
    case 'expired':
      return `countersign's own AWS credentials have expired (${detail})`;
    case 'invalid_credentials':
      return `STS does not accept countersign's own AWS credentials (${detail})`;
    case 'unreachable':
      return `STS could not be reached in time (${detail})`;
    case 'unavailable':
      return `STS is failing or throttling (${detail})`;
    case 'refused':
      return `STS refused the call (${detail})`;
  }
}
