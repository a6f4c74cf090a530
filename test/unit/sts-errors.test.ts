// What countersign tells an operator (and an agent) when STS fails: its own credentials (missing,
// expired, not accepted), its path to STS, or the role. Only the last is the rule's business.
import { STSServiceException } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { classifyStsFailure } from '../../src/broker/sts-errors.js';

const sts = (name: string, fault: 'client' | 'server' = 'client') => new STSServiceException({ name, $fault: fault, $metadata: { httpStatusCode: fault === 'server' ? 500 : 403 }, message: name });
const named = (name: string, message = name) => Object.assign(new Error(message), { name });

describe('classifyStsFailure', () => {
  it.each([
    ['the provider chain found nothing', named('CredentialsProviderError', 'Could not load credentials from any providers'), 'no_credentials'],
    ['an expired session token', sts('ExpiredToken'), 'expired'],
    ['an unknown access key', sts('InvalidClientTokenId'), 'invalid_credentials'],
    ['a wrong secret', sts('SignatureDoesNotMatch'), 'invalid_credentials'],
    ['the deadline', named('AbortError', 'Request aborted'), 'unreachable'],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'unreachable'],
    ['STS failing', sts('InternalFailure', 'server'), 'unavailable'],
    ['throttling', sts('Throttling'), 'unavailable'],
    ['a trust policy that does not admit countersign', sts('AccessDenied'), 'refused'],
    ['a session policy too large', sts('PackedPolicyTooLarge'), 'refused'],
  ])('%s', (_what, error, expected) => {
    expect(classifyStsFailure(error)).toBe(expected);
  });
});
