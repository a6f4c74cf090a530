import { CountersignError } from '../../errors.js';
import { ANY_RESOURCE, arn, type ResourceRef } from '../arn.js';
import { partitionOf, virtualHostedBucket } from '../endpoints.js';
import { firstValue, type QueryParams } from '../query-string.js';
import type { ActionOnResource, Classification, ClassifyInput, ServiceClassifier } from './types.js';

/**
 * S3 (REST-XML). The operation follows from method, bucket/key presence and query parameters.
 * A query parameter we do not know may select another operation entirely (`?acl` turns
 * GetObject into GetObjectAcl), so any unknown parameter refuses the request rather than
 * classifying it as the plain operation.
 */

const RESPONSE_OVERRIDES = [
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
];
const LIST_PARAMS = ['list-type', 'prefix', 'delimiter', 'max-keys', 'continuation-token', 'start-after', 'fetch-owner', 'encoding-type', 'marker'];

/** Parameters each operation may carry (`x-id` is the JS SDK v3's operation hint). */
const ALLOWED_PARAMS: Record<string, readonly string[]> = {
  GetObject: ['versionId', 'partNumber', 'x-id', ...RESPONSE_OVERRIDES],
  HeadObject: ['versionId', 'partNumber', 'x-id', ...RESPONSE_OVERRIDES],
  PutObject: ['x-id'],
  DeleteObject: ['versionId', 'x-id'],
  ListObjects: ['x-id', ...LIST_PARAMS],
  ListObjectsV2: ['x-id', ...LIST_PARAMS],
  ListBuckets: ['x-id', 'max-buckets', 'continuation-token', 'prefix', 'bucket-region'],
};

const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/;

interface S3Address {
  readonly bucket: string | undefined;
  readonly key: string | undefined;
}

/** Bucket and key from a virtual-hosted host or a path-style path (key decoded). */
export function s3Address(host: string, rawPath: string): S3Address {
  const hostBucket = virtualHostedBucket(host);
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  let bucket = hostBucket;
  let encodedKey = path;
  if (bucket === undefined) {
    const slash = path.indexOf('/');
    bucket = decodeSegment(slash === -1 ? path : path.slice(0, slash));
    encodedKey = slash === -1 ? '' : path.slice(slash + 1);
  }
  if (bucket === '') return { bucket: undefined, key: undefined };
  if (!BUCKET_NAME.test(bucket)) throw unclassified(`"${bucket.slice(0, 64)}" is not a valid S3 bucket name`);
  return { bucket, key: encodedKey === '' ? undefined : decodeSegment(encodedKey) };
}

function decodeSegment(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw unclassified('the path has an invalid percent-encoding');
  }
}

function unclassified(why: string): CountersignError {
  return new CountersignError('UnclassifiedRequest', `S3 request not classified: ${why}.`);
}

function operationOf(method: string, address: S3Address, query: QueryParams, input: ClassifyInput): string {
  if (address.bucket === undefined) {
    if (method === 'GET') return 'ListBuckets';
  } else if (address.key === undefined) {
    if (method === 'GET') return firstValue(query, 'list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
  } else {
    switch (method) {
      case 'GET':
        return 'GetObject';
      case 'HEAD':
        return 'HeadObject';
      case 'DELETE':
        return 'DeleteObject';
      case 'PUT':
        if (input.headers['x-amz-copy-source'] !== undefined) {
          throw unclassified('CopyObject (x-amz-copy-source) is not supported yet');
        }
        return 'PutObject';
    }
  }
  throw unclassified(`${method} on ${address.key !== undefined ? 'an object' : address.bucket !== undefined ? 'a bucket' : 'the service'} is not a supported operation`);
}

function needsOf(operation: string, address: S3Address, query: QueryParams, input: ClassifyInput): ActionOnResource[] {
  const partition = partitionOf(input.region);
  const bucketArn: ResourceRef = { arn: arn(partition, 's3', '', '', address.bucket ?? ''), needsAccount: false };
  const objectArn: ResourceRef = { arn: `${bucketArn.arn}/${address.key ?? ''}`, needsAccount: false };
  const versioned = firstValue(query, 'versionId') !== undefined;
  switch (operation) {
    case 'ListBuckets':
      return [{ action: 's3:ListAllMyBuckets', resource: ANY_RESOURCE }];
    case 'ListObjects':
    case 'ListObjectsV2':
      return [{ action: 's3:ListBucket', resource: bucketArn }];
    case 'GetObject':
    case 'HeadObject':
      return [{ action: versioned ? 's3:GetObjectVersion' : 's3:GetObject', resource: objectArn }];
    case 'DeleteObject':
      return [{ action: versioned ? 's3:DeleteObjectVersion' : 's3:DeleteObject', resource: objectArn }];
    default: {
      // PutObject: an ACL or tags set in the same call need their own permissions
      // (S3 API Reference, PutObject: "x-amz-acl ... requires s3:PutObjectAcl").
      const needs: ActionOnResource[] = [{ action: 's3:PutObject', resource: objectArn }];
      const headers = Object.keys(input.headers);
      if (headers.some((h) => h === 'x-amz-acl' || h.startsWith('x-amz-grant-'))) {
        needs.push({ action: 's3:PutObjectAcl', resource: objectArn });
      }
      if (headers.includes('x-amz-tagging')) needs.push({ action: 's3:PutObjectTagging', resource: objectArn });
      return needs;
    }
  }
}

/** What rules may test: the bucket, the key, and the options that change what a call does. */
function parametersOf(address: S3Address, input: ClassifyInput): Record<string, string> {
  const parameters: Record<string, string> = {};
  if (address.bucket !== undefined) parameters.Bucket = address.bucket;
  if (address.key !== undefined) parameters.Key = address.key;
  const fromQuery: Array<[string, string]> = [['versionId', 'VersionId'], ['prefix', 'Prefix']];
  for (const [param, name] of fromQuery) {
    const value = firstValue(input.query, param);
    if (value !== undefined) parameters[name] = value;
  }
  const acl = input.headers['x-amz-acl'];
  if (typeof acl === 'string') parameters.ACL = acl;
  return parameters;
}

export const s3Classifier: ServiceClassifier = {
  protocol: 'rest-xml',
  buffersBody: false,
  classify(input: ClassifyInput): Classification {
    // S3 Control signs as "s3" too; its paths (/v20180820/...) would read as a bucket.
    if (input.headers['x-amz-account-id'] !== undefined) throw unclassified('S3 Control requests are not supported yet');
    const address = s3Address(input.host, input.rawPath);
    const operation = operationOf(input.method, address, input.query, input);
    const allowed = ALLOWED_PARAMS[operation] ?? [];
    const unknown = Object.keys(input.query).find((param) => !allowed.includes(param));
    if (unknown !== undefined) throw unclassified(`query parameter "${unknown.slice(0, 64)}" on ${operation} selects an unsupported operation`);
    return {
      service: 's3',
      region: input.region,
      operation,
      protocol: 'rest-xml',
      needs: needsOf(operation, address, input.query, input),
      parameters: parametersOf(address, input),
    };
  },
};
