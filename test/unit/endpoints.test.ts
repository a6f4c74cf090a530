import { describe, expect, it } from 'vitest';
import { endpointHost, isAwsHost, isS3Host, partitionOf, splitAuthority, virtualHostedBucket } from '../../src/aws/endpoints.js';
import { hostServesService } from '../../src/aws/host-service.js';
import { payloadModeOf } from '../../src/aws/payload.js';
import { protocolOf } from '../../src/aws/protocol.js';
import { refusal } from '../support/refusal.js';

describe('AWS hosts', () => {
  it('recognises AWS domains', () => {
    expect(isAwsHost('s3.amazonaws.com')).toBe(true);
    expect(isAwsHost('sts.cn-north-1.amazonaws.com.cn')).toBe(true);
    expect(isAwsHost('dynamodb.us-east-1.api.aws')).toBe(true);
    expect(isAwsHost('amazonaws.com.evil.example')).toBe(false);
    expect(isAwsHost('evilamazonaws.com')).toBe(false);
    expect(isAwsHost('registry.npmjs.org')).toBe(false);
  });

  it('names the partition of a region', () => {
    expect(partitionOf('us-east-1')).toBe('aws');
    expect(partitionOf('eu-west-1')).toBe('aws');
    expect(partitionOf('cn-north-1')).toBe('aws-cn');
    expect(partitionOf('cn-northwest-1')).toBe('aws-cn');
    expect(partitionOf('us-gov-west-1')).toBe('aws-us-gov');
  });

  it('gives the public endpoint of a service in a region', () => {
    expect(endpointHost('s3', 'us-west-2')).toBe('s3.us-west-2.amazonaws.com');
    expect(endpointHost('sts', 'us-east-1')).toBe('sts.us-east-1.amazonaws.com');
    expect(endpointHost('iam', 'us-east-1')).toBe('iam.amazonaws.com');
    expect(endpointHost('route53', 'us-east-1')).toBe('route53.amazonaws.com');
    expect(endpointHost('bedrock-runtime', 'us-west-2')).toBe('bedrock-runtime.us-west-2.amazonaws.com');
    expect(endpointHost('api.ecr', 'eu-west-1')).toBe('api.ecr.eu-west-1.amazonaws.com');
    expect(endpointHost('iam', 'eu-west-1')).toBe('iam.amazonaws.com');
    expect(endpointHost('iam', 'cn-north-1')).toBe('iam.cn-north-1.amazonaws.com.cn');
    expect(endpointHost('dynamodb', 'cn-north-1')).toBe('dynamodb.cn-north-1.amazonaws.com.cn');
    expect(endpointHost('dynamodb', 'us-gov-west-1')).toBe('dynamodb.us-gov-west-1.amazonaws.com');
  });

  it('recognises S3 hosts, path-style and virtual-hosted, but not S3 Control or access points', () => {
    for (const host of [
      's3.amazonaws.com',
      's3.us-west-2.amazonaws.com',
      's3-us-west-2.amazonaws.com',
      's3.dualstack.us-west-2.amazonaws.com',
      's3.cn-north-1.amazonaws.com.cn',
      'bucket.s3.amazonaws.com',
      'bucket.s3.us-west-2.amazonaws.com',
      'my.dotted.bucket.s3.us-west-2.amazonaws.com',
      'bucket.s3.dualstack.us-west-2.amazonaws.com',
    ]) {
      expect(isS3Host(host), host).toBe(true);
    }
    for (const host of [
      '123456789012.s3-control.us-east-1.amazonaws.com',
      's3-control.us-east-1.amazonaws.com',
      'ap-123456789012.s3-accesspoint.us-east-1.amazonaws.com',
      'op-1.s3-outposts.us-east-1.amazonaws.com',
      'sts.amazonaws.com',
      'bucket.s3.amazonaws.com.evil.example',
    ]) {
      expect(isS3Host(host), host).toBe(false);
    }
  });

  it('reads the bucket of a virtual-hosted S3 host', () => {
    expect(virtualHostedBucket('bucket.s3.amazonaws.com')).toBe('bucket');
    expect(virtualHostedBucket('bucket.s3.us-west-2.amazonaws.com')).toBe('bucket');
    expect(virtualHostedBucket('bucket.s3-us-west-2.amazonaws.com')).toBe('bucket');
    expect(virtualHostedBucket('my.dotted.bucket.s3.eu-west-1.amazonaws.com')).toBe('my.dotted.bucket');
    expect(virtualHostedBucket('bucket.s3.dualstack.us-west-2.amazonaws.com')).toBe('bucket');
    expect(virtualHostedBucket('bucket.s3.cn-north-1.amazonaws.com.cn')).toBe('bucket');
    expect(virtualHostedBucket('s3.amazonaws.com')).toBeUndefined();
    expect(virtualHostedBucket('s3.us-west-2.amazonaws.com')).toBeUndefined();
    expect(virtualHostedBucket('s3.dualstack.us-west-2.amazonaws.com')).toBeUndefined();
    expect(virtualHostedBucket('sts.amazonaws.com')).toBeUndefined();
  });

  it('splits host and port, lower-casing the host and unbracketing IPv6', () => {
    expect(splitAuthority('S3.Amazonaws.com:443')).toEqual({ host: 's3.amazonaws.com', port: 443 });
    expect(splitAuthority('example.com')).toEqual({ host: 'example.com', port: undefined });
    expect(splitAuthority('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(splitAuthority('[2001:db8::1]')).toEqual({ host: '2001:db8::1', port: undefined });
    expect(splitAuthority('example.com:0')).toBeUndefined();
    expect(splitAuthority('example.com:65536')).toBeUndefined();
    expect(splitAuthority('example.com:http')).toBeUndefined();
    expect(splitAuthority('user@example.com')).toBeUndefined();
    expect(splitAuthority('')).toBeUndefined();
  });
});

describe('hostServesService', () => {
  it('accepts hosts that serve the signed service', () => {
    expect(hostServesService('sts.us-east-1.amazonaws.com', 'sts')).toBe(true);
    expect(hostServesService('sts.amazonaws.com', 'sts')).toBe(true);
    expect(hostServesService('iam.amazonaws.com', 'iam')).toBe(true);
    expect(hostServesService('dynamodb-fips.us-east-1.amazonaws.com', 'dynamodb')).toBe(true);
    expect(hostServesService('bucket.s3.us-west-2.amazonaws.com', 's3')).toBe(true);
    expect(hostServesService('s3.amazonaws.com', 's3')).toBe(true);
    // Signing names whose hosts carry another endpoint prefix, and account endpoints.
    expect(hostServesService('bedrock-runtime.us-east-1.amazonaws.com', 'bedrock')).toBe(true);
    expect(hostServesService('api.ecr.us-east-1.amazonaws.com', 'ecr')).toBe(true);
    expect(hostServesService('email.us-east-1.amazonaws.com', 'ses')).toBe(true);
    expect(hostServesService('123456789012.s3-control.us-east-1.amazonaws.com', 's3')).toBe(true);
    expect(hostServesService('123456789012.ddb.us-east-1.amazonaws.com', 'dynamodb')).toBe(true);
  });

  it('refuses hosts of another service', () => {
    expect(hostServesService('iam.amazonaws.com', 'sts')).toBe(false);
    expect(hostServesService('dynamodb.us-east-1.amazonaws.com', 's3')).toBe(false);
    expect(hostServesService('bucket.s3.amazonaws.com', 'dynamodb')).toBe(false);
    expect(hostServesService('stsx.amazonaws.com', 'sts')).toBe(false);
    expect(hostServesService('s3x.us-east-1.amazonaws.com', 's3')).toBe(false);
    expect(hostServesService('bedrock.s3.amazonaws.com', 'bedrock')).toBe(false);
    expect(hostServesService('bedrock-runtime.us-east-1.amazonaws.com', 'ecr')).toBe(false);
  });
});

describe('protocolOf', () => {
  it('guesses the protocol for early errors', () => {
    expect(protocolOf('s3', { 'x-amz-target': 'x' })).toBe('rest-xml');
    expect(protocolOf('dynamodb', { 'x-amz-target': 'DynamoDB_20120810.GetItem' })).toBe('json');
    expect(protocolOf('dynamodb', { 'content-type': 'application/x-amz-json-1.0' })).toBe('json');
    expect(protocolOf('sts', { 'content-type': 'application/x-www-form-urlencoded' })).toBe('query');
    expect(protocolOf(undefined, {})).toBe('rest-xml');
    expect(protocolOf(undefined, { 'x-amz-target': 'x' })).toBe('json');
  });
});

describe('payloadModeOf', () => {
  it('names each payload mode by x-amz-content-sha256', () => {
    expect(payloadModeOf({ 'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' })).toBe('hashed');
    expect(payloadModeOf({ 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' })).toBe('unsigned');
    expect(payloadModeOf({ 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' })).toBe('unsigned');
    expect(payloadModeOf({ 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' })).toBe('chunks');
    expect(payloadModeOf({ 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' })).toBe('chunks-trailer');
    expect(payloadModeOf({})).toBe('absent');
  });

  it('refuses SigV4a chunks, repeated and malformed payload hashes', () => {
    expect(refusal(() => payloadModeOf({ 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD' })).code).toBe('UnsupportedSigning');
    expect(refusal(() => payloadModeOf({ 'x-amz-content-sha256': ['UNSIGNED-PAYLOAD', 'UNSIGNED-PAYLOAD'] })).code).toBe('MalformedAuthorization');
    expect(refusal(() => payloadModeOf({ 'x-amz-content-sha256': 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855' })).code).toBe('MalformedAuthorization');
    expect(refusal(() => payloadModeOf({ 'x-amz-content-sha256': 'abc' })).code).toBe('MalformedAuthorization');
  });
});
