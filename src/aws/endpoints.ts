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

// BUCKET.s3.amazonaws.com, BUCKET.s3.REGION.amazonaws.com, BUCKET.s3-REGION.amazonaws.com,
// BUCKET.s3.dualstack.REGION.amazonaws.com (S3 User Guide, "Virtual hosting of buckets").
// The bucket is everything before the last ".s3" label, so bucket names with dots work.
const VIRTUAL_HOSTED_S3 =
  /^(?<bucket>[a-z0-9][a-z0-9.-]*)\.s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$/;
const S3_SERVICE_HOST = /^s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$/;

/** S3's own API hosts (path-style or virtual-hosted); not S3 Control, access points or Outposts. */
export function isS3Host(host: string): boolean {
  if (/\.?s3-(?:control|accesspoint|outposts|object-lambda)[.-]/.test(host)) return false;
  return S3_SERVICE_HOST.test(host) || virtualHostedBucket(host) !== undefined;
}

/** The bucket named by a virtual-hosted S3 host, or undefined for path-style hosts. */
export function virtualHostedBucket(host: string): string | undefined {
  if (S3_SERVICE_HOST.test(host)) return undefined;
  return VIRTUAL_HOSTED_S3.exec(host)?.groups?.bucket;
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
