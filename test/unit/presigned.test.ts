import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { NodeSha256 } from '../../src/aws/smithy-sha256.js';
import { parseQuery, withoutParams } from '../../src/aws/query-string.js';
import { isPresigned, parseQueryAuthorization, PRESIGN_ONLY_PARAMS } from '../../src/aws/sigv4.js';
import { verifyAgent } from '../../src/identity/identify.js';
import { refusal } from '../support/refusal.js';

/** Presigned URLs made by smithy's signer (what the JS SDK's presigners use), verified by countersign's own verifier. */

const KEY = { agent: 'report-1', secret: 'agent-secret-for-presign-tests' };
const NOW = Date.UTC(2026, 10, 21, 9, 0, 0);

async function presignedUrl(service: string, host: string, path: string, expiresIn: number, at = NOW, query: Record<string, string> = {}) {
  const signer = new SignatureV4({ credentials: { accessKeyId: 'CSAKPRESIGN0000000000', secretAccessKey: KEY.secret }, region: 'us-east-1', service, sha256: NodeSha256, uriEscapePath: service !== 's3' });
  const headers: Record<string, string> = { host };
  // As @aws-sdk/s3-request-presigner does: S3 URLs sign no payload.
  if (service === 's3') headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  // smithy hoists the header into the query (x-amz-content-sha256=UNSIGNED-PAYLOAD) and signs with it.
  const signed = await signer.presign({ method: 'GET', protocol: 'https:', hostname: host, path, query, headers }, { expiresIn, signingDate: new Date(at) });
  const rawQuery = Object.entries(signed.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
  const q = parseQuery(rawQuery);
  return { rawQuery, request: { method: 'GET', host, rawPath: path, query: q, headers: { host } }, auth: parseQueryAuthorization(q) };
}

describe('presigned URLs', () => {
  it('verifies an S3 GET and an STS call presigned with an agent key', async () => {
    const s3 = await presignedUrl('s3', 'reports.s3.us-east-1.amazonaws.com', '/2026/q3%20final.csv', 900);
    expect(isPresigned(s3.request.query)).toBe(true);
    expect(verifyAgent(s3.request, s3.auth, KEY, NOW + 60_000)).toMatchObject({ agent: 'report-1', service: 's3', region: 'us-east-1' });
    const sts = await presignedUrl('sts', 'sts.us-east-1.amazonaws.com', '/', 60, NOW, { Action: 'GetCallerIdentity', Version: '2011-06-15' });
    expect(verifyAgent(sts.request, sts.auth, KEY, NOW)).toMatchObject({ service: 'sts' });
  });

  it('refuses a changed URL, an expired one, one dated in the future, and a wrong secret', async () => {
    const { request, auth } = await presignedUrl('s3', 's3.us-east-1.amazonaws.com', '/reports/a.csv', 300);
    expect(refusal(() => verifyAgent({ ...request, rawPath: '/reports/b.csv' }, auth, KEY, NOW)).code).toBe('SignatureMismatch');
    expect(refusal(() => verifyAgent({ ...request, query: { ...request.query, versionId: '1' } }, auth, KEY, NOW)).code).toBe('SignatureMismatch');
    expect(refusal(() => verifyAgent(request, auth, { ...KEY, secret: 'other' }, NOW)).code).toBe('SignatureMismatch');
    expect(refusal(() => verifyAgent(request, auth, KEY, NOW + 301_000))).toEqual({ code: 'ExpiredPresignedUrl', message: "The presigned URL expired at 2026-11-21T09:05:00.000Z (countersign's clock: 2026-11-21T09:05:01.000Z)." });
    expect(refusal(() => verifyAgent(request, auth, KEY, NOW - 16 * 60_000)).code).toBe('RequestTimeSkewed');
  });

  it('refuses malformed presign parameters and SigV4a', () => {
    const base = { 'X-Amz-Algorithm': 'AWS4-HMAC-SHA256', 'X-Amz-Credential': 'CSAK/20261121/us-east-1/s3/aws4_request', 'X-Amz-Date': '20261121T090000Z', 'X-Amz-Expires': '60', 'X-Amz-SignedHeaders': 'host', 'X-Amz-Signature': 'a'.repeat(64) };
    expect(parseQueryAuthorization(base)).toMatchObject({ service: 's3', presigned: { longDate: '20261121T090000Z', expiresSeconds: 60 } });
    expect(refusal(() => parseQueryAuthorization({ ...base, 'X-Amz-Expires': '604801' })).code).toBe('MalformedAuthorization');
    expect(refusal(() => parseQueryAuthorization({ ...base, 'X-Amz-Signature': ['a'.repeat(64), 'b'.repeat(64)] })).code).toBe('MalformedAuthorization');
    expect(refusal(() => parseQueryAuthorization({ ...base, 'X-Amz-Algorithm': 'AWS4-ECDSA-P256-SHA256' })).code).toBe('UnsupportedSigning');
  });

  it('refuses a SigV2 presigned URL by name instead of as an unsigned request', () => {
    // What boto3 makes of s3.generate_presigned_url without Config(signature_version='s3v4').
    const sigv2 = parseQuery('AWSAccessKeyId=CSAKPRESIGN0000000000&Signature=dGVzdA%3D%3D&Expires=1795338000');
    expect(isPresigned(sigv2)).toBe(true);
    expect(refusal(() => parseQueryAuthorization(sigv2))).toEqual({
      code: 'UnsupportedSigning',
      message: 'SigV2 presigned URLs (AWSAccessKeyId and Signature in the query) are not supported.',
    });
    // SigV2 query auth of the query APIs (EC2, SQS: SignatureVersion=2, Timestamp) likewise.
    expect(refusal(() => parseQueryAuthorization(parseQuery('Action=DescribeInstances&AWSAccessKeyId=K&SignatureVersion=2&SignatureMethod=HmacSHA256&Timestamp=2026-11-21T09%3A00%3A00Z&Signature=c2ln'))).code).toBe('UnsupportedSigning');
    // A request without any query auth is still not presigned.
    expect(isPresigned(parseQuery('versionId=1&Signature=x'))).toBe(false);
  });

  it('forwards the query without the agent auth, the rest as it was on the wire', () => {
    const raw = 'versionId=a%2Bb&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=K%2F1&X-Amz-Signature=abc&response-content-type=text%2Fplain&X-Amz-Security-Token=t&x-amz-content-sha256=UNSIGNED-PAYLOAD';
    expect(withoutParams(raw, PRESIGN_ONLY_PARAMS)).toBe('versionId=a%2Bb&response-content-type=text%2Fplain');
  });
});
