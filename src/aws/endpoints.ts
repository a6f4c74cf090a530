import { isS3ApiHost } from './endpoint-data.js';

/**
 * Where AWS lives: recognising AWS hosts, reading the bucket out of virtual-hosted S3 names,
 * and the public endpoint for a (service, region) pair for endpoint-mode requests.
 */

const AWS_DOMAINS = ['.amazonaws.com', '.amazonaws.com.cn', '.api.aws'] as const;

/** True for hosts countersign intercepts and brokers (lower-case host, no port). */
export function isAwsHost(host: string): boolean {
  return AWS_DOMAINS.some((domain) => host.endsWith(domain));
}

/** `aws`, `aws-cn`, `aws-us-gov` from a region name. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** The DNS suffix of a region's partition: `amazonaws.com`, `amazonaws.com.cn` for China. */
export function dnsSuffix(region: string): string {
  return partitionOf(region) === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
}

/** Services with one global endpoint in the commercial partition, by endpoint prefix. */
const GLOBAL_ENDPOINTS: Readonly<Record<string, string>> = {
  iam: 'iam.amazonaws.com',
  route53: 'route53.amazonaws.com',
  cloudfront: 'cloudfront.amazonaws.com',
  savingsplans: 'savingsplans.amazonaws.com',
};

/** The public HTTPS host serving a service's API in a region, by the model's endpoint prefix (bedrock-runtime, api.ecr). */
export function endpointHost(endpointPrefix: string, region: string): string {
  const global = Object.hasOwn(GLOBAL_ENDPOINTS, endpointPrefix) ? GLOBAL_ENDPOINTS[endpointPrefix] : undefined;
  if (global !== undefined && partitionOf(region) === 'aws') return global;
  return `${endpointPrefix}.${region}.${dnsSuffix(region)}`;
}

/** What S3 accepts as a bucket label sequence in a host (lower-case letters, digits, dots, hyphens). */
const BUCKET = /^[a-z0-9][a-z0-9.-]*$/;

/**
 * S3's own API hosts, path-style or virtual-hosted (`BUCKET.` before one of them): the hosts
 * AWS's endpoint data gives the S3 API (endpoint-data.ts): `s3.amazonaws.com`,
 * `s3.REGION.amazonaws.com`, `s3-fips.REGION`, `s3.dualstack.REGION`, `s3-fips.dualstack.REGION`,
 * `s3-external-1`, the legacy `s3-REGION`, `s3-accelerate[.dualstack]` (S3 User Guide, "Virtual
 * hosting of buckets"). Not S3 Control, access points, Object Lambda, Outposts or Express.
 */
export function isS3Host(host: string): boolean {
  return isS3ApiHost(host) || virtualHostedBucket(host) !== undefined;
}

/**
 * The bucket named by a virtual-hosted S3 host, or undefined for path-style and other hosts.
 * The bucket is everything before the shortest S3 API host the name ends in, so bucket names
 * with dots (and labels that look like regions) work: `my.bucket.s3.us-east-1.amazonaws.com`.
 */
export function virtualHostedBucket(host: string): string | undefined {
  if (isS3ApiHost(host)) return undefined;
  for (let dot = host.lastIndexOf('.'); dot > 0; dot = host.lastIndexOf('.', dot - 1)) {
    if (!isS3ApiHost(host.slice(dot + 1))) continue;
    const bucket = host.slice(0, dot);
    return BUCKET.test(bucket) ? bucket : undefined;
  }
  return undefined;
}

/** Splits `host[:port]`, accepting bracketed IPv6 literals. */
export function splitAuthority(authority: string): { host: string; port: number | undefined } | undefined {
  const match = /^(?<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(?<port>\d{1,5}))?$/.exec(authority);
  if (!match?.groups) return undefined;
  const port = match.groups.port === undefined ? undefined : Number(match.groups.port);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  const host = match.groups.host ?? '';
  return { host: host.toLowerCase().replace(/^\[|\]$/g, ''), port };
}
