import { describe, expect, it } from 'vitest';
import { CountersignError, ERROR_CATALOGUE, isCountersignError, type CatalogueEntry, type ErrorCode } from '../../src/errors.js';

const entries = Object.entries(ERROR_CATALOGUE) as Array<[ErrorCode, CatalogueEntry]>;

describe('ERROR_CATALOGUE', () => {
  it('has at least the codes the request path uses', () => {
    expect(Object.keys(ERROR_CATALOGUE)).toEqual(
      expect.arrayContaining([
        'AccessDenied',
        'AssumeRoleFailed',
        'HostNotAllowed',
        'InternalError',
        'MalformedAuthorization',
        'MissingAuthentication',
        'MisroutedRequest',
        'PortNotAllowed',
        'RequestTimeSkewed',
        'RequestTooLarge',
        'RevokedAgentKey',
        'SignatureMismatch',
        'UnclassifiedRequest',
        'UnknownAgentKey',
        'UnsupportedSigning',
        'UpstreamUnavailable',
      ]),
    );
  });

  it.each(entries)('%s has an HTTP error status, AWS codes and a hint that is a sentence', (_code, entry) => {
    expect(Number.isInteger(entry.status)).toBe(true);
    expect(entry.status).toBeGreaterThanOrEqual(400);
    expect(entry.status).toBeLessThanOrEqual(599);
    expect(entry.awsCode).toMatch(/^[A-Z][A-Za-z]+$/);
    if (entry.jsonCode !== undefined) expect(entry.jsonCode).toMatch(/^[A-Z][A-Za-z]+$/);
    expect(entry.hint.length).toBeGreaterThan(20);
    expect(entry.hint).toMatch(/^[A-Za-z`]/);
    expect(entry.hint.endsWith('.')).toBe(true);
    expect(entry.hint).not.toMatch(/\s$|\s\s/);
  });

  it('uses statuses that match the kind of refusal', () => {
    expect(ERROR_CATALOGUE.MissingAuthentication.status).toBe(403);
    expect(ERROR_CATALOGUE.MalformedAuthorization.status).toBe(400);
    expect(ERROR_CATALOGUE.SignatureMismatch.status).toBe(403);
    expect(ERROR_CATALOGUE.AccessDenied.status).toBe(403);
    expect(ERROR_CATALOGUE.UnclassifiedRequest.status).toBe(400);
    expect(ERROR_CATALOGUE.RequestTooLarge.status).toBe(413);
    expect(ERROR_CATALOGUE.UpstreamUnavailable.status).toBe(502);
    expect(ERROR_CATALOGUE.InternalError.status).toBe(500);
  });

  it('names the codes AWS SDKs recognise', () => {
    expect(ERROR_CATALOGUE.SignatureMismatch.awsCode).toBe('SignatureDoesNotMatch');
    expect(ERROR_CATALOGUE.UnknownAgentKey.awsCode).toBe('InvalidAccessKeyId');
    expect(ERROR_CATALOGUE.UnknownAgentKey.jsonCode).toBe('UnrecognizedClientException');
    expect(ERROR_CATALOGUE.RequestTimeSkewed.awsCode).toBe('RequestTimeTooSkewed');
    expect(ERROR_CATALOGUE.AccessDenied.jsonCode).toBe('AccessDeniedException');
  });
});

describe('CountersignError', () => {
  it('carries its code, catalogue entry and message', () => {
    const error = new CountersignError('RevokedAgentKey', 'The key was revoked.');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('CountersignError');
    expect(error.code).toBe('RevokedAgentKey');
    expect(error.message).toBe('The key was revoked.');
    expect(error.entry).toBe(ERROR_CATALOGUE.RevokedAgentKey);
    expect(error.clientMessage).toBe('The key was revoked. This agent key was revoked; ask an operator to issue a new one.');
  });

  it('is recognised by isCountersignError and nothing else is', () => {
    expect(isCountersignError(new CountersignError('InternalError', 'x'))).toBe(true);
    expect(isCountersignError(new Error('x'))).toBe(false);
    expect(isCountersignError({ code: 'InternalError', entry: ERROR_CATALOGUE.InternalError })).toBe(false);
    expect(isCountersignError(undefined)).toBe(false);
  });
});
