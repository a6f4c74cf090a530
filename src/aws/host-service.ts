import { accessPointOf } from './classify/access-point.js';
import { cachedHostKey, endpointData, signingNamesOfHost } from './endpoint-data.js';
import { isS3Host } from './endpoints.js';
import { routeTable } from './routes/table.js';

/**
 * Does this AWS host serve the service the agent signed for? A request signed for one service
 * and sent to another's host is refused rather than forwarded on a guess. A host serves a
 * signing name only when AWS's endpoint data says so (endpoint-data.ts):
 *  - a host the data lists for it: every host the current SDKs' endpoint rule sets, botocore's
 *    endpoints.json (the AWS CLI v1's `queue.amazonaws.com`, `<region>.queue.amazonaws.com`,
 *    `rds.amazonaws.com`, ...) and aws-sdk v2's rules resolve to, FIPS and dual-stack
 *    included, with the signing names of their credential scopes and auth schemes
 *    (bedrock-runtime signs as bedrock, api.ecr as ecr, `<account>.ddb` as dynamodb);
 *  - a partition's default host (`<prefix>[-fips].<region>.<suffix>`) for the endpoint prefix of
 *    one of the signing name's models in the route table, for services newer than the data;
 *  - for S3, an S3 API host with or without a bucket in front, or an access point host.
 * `bedrock.s3.amazonaws.com` is a bucket, not Bedrock: no data lists it for bedrock.
 */
export function hostServesService(host: string, signingName: string): boolean {
  if (signingName === 's3' && (isS3Host(host) || accessPointOf(host) !== undefined)) return true;
  if (signingNamesOfHost(host).includes(signingName)) return true;
  const key = cachedHostKey(host);
  return key !== undefined && defaultHostKeys(signingName).has(key);
}

const bySigningName = new Map<string, ReadonlySet<string>>();

/** The partitions' default host keys for each endpoint prefix of the signing name's models. */
function defaultHostKeys(signingName: string): ReadonlySet<string> {
  let keys = bySigningName.get(signingName);
  if (keys === undefined) {
    const prefixes = new Set((routeTable().bySigningName.get(signingName) ?? []).map((s) => s.endpointPrefix));
    keys = new Set([...prefixes].flatMap((prefix) => endpointData().defaultHosts.map((template) => template.replaceAll('{service}', prefix))));
    bySigningName.set(signingName, keys);
  }
  return keys;
}
