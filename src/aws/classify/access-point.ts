import { dnsSuffix, partitionOf } from '../endpoints.js';
import type { ActionOnResource } from './types.js';

/**
 * S3 access points: `<name>-<account>.s3-accesspoint[.dualstack].<region>.amazonaws.com` serves
 * the S3 object API under the access point's own ARN (S3 User Guide, "Using access points";
 * Service Authorization Reference: `accesspoint` and `accesspointobject` resource types). A
 * request is matched against the S3 model with a placeholder bucket, whose ARNs then become the
 * access point's: `arn:aws:s3:::BUCKET` → `arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME` and
 * `arn:aws:s3:::BUCKET/KEY` → `.../accesspoint/NAME/object/KEY`.
 */
export interface AccessPoint {
  readonly name: string;
  readonly account: string;
  readonly region: string;
  readonly arn: string;
}

const ACCESS_POINT_HOST = /^(?<name>[a-z0-9][a-z0-9-]{1,48}[a-z0-9])-(?<account>\d{12})\.s3-accesspoint(?:-fips)?(?:\.dualstack)?\.(?<region>[a-z]{2,}(?:-[a-z]+)+-\d{1,2})\.amazonaws\.com(?:\.cn)?$/;

/** A bucket name S3 itself never allows (two hyphens then an upper-case letter), so it cannot collide. */
export const ACCESS_POINT_BUCKET = 'ap--Placeholder';

export function accessPointOf(host: string): AccessPoint | undefined {
  const groups = ACCESS_POINT_HOST.exec(host)?.groups;
  if (groups?.name === undefined || groups.account === undefined || groups.region === undefined) return undefined;
  const { name, account, region } = groups;
  return { name, account, region, arn: `arn:${partitionOf(region)}:s3:${region}:${account}:accesspoint/${name}` };
}

/**
 * The public host of an access point, built from the parts its ARN is built from, so a request
 * sent there reaches the resource the policy decided on (endpoint mode, which names no host).
 */
export function accessPointHost(ap: AccessPoint): string {
  return `${ap.name}-${ap.account}.s3-accesspoint.${ap.region}.${dnsSuffix(ap.region)}`;
}

/** The placeholder bucket's ARNs as the access point's; other resources (a copy source) stay. */
export function throughAccessPoint(needs: readonly ActionOnResource[], ap: AccessPoint): ActionOnResource[] {
  const bucketArn = `arn:${partitionOf(ap.region)}:s3:::${ACCESS_POINT_BUCKET}`;
  return needs.map((need) => {
    const arn = need.resource.arn;
    if (arn === bucketArn) return { ...need, resource: { arn: ap.arn, needsAccount: false } };
    if (arn.startsWith(`${bucketArn}/`)) return { ...need, resource: { arn: `${ap.arn}/object/${arn.slice(bucketArn.length + 1)}`, needsAccount: false } };
    return need;
  });
}
