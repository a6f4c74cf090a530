import type { EntryMode } from '../http/inbound.js';
import { accessPointHost, accessPointOf, type AccessPoint } from '../aws/classify/access-point.js';
import { endpointHost, isS3Host, virtualHostedBucket } from '../aws/endpoints.js';
import { CountersignError } from '../errors.js';

/** Where a request goes: an origin to connect to, the Host to send, and the path on the wire. */
export interface UpstreamTarget {
  readonly origin: string;
  readonly host: string;
  readonly rawPath: string;
}


export interface TargetInput {
  readonly mode: EntryMode;
  readonly scheme: 'http' | 'https';
  readonly authority: string;
  readonly host: string;
  readonly rawPath: string;
  readonly service: string;
  /** The endpoint prefix of the service's model (bedrock-runtime for a Bedrock Runtime call signed as bedrock). */
  readonly endpointPrefix: string;
  readonly region: string;
}

/**
 * Where the request's S3 bucket was read from, read exactly as the classifier reads it: an
 * access point host when the signing name is s3 (classify/routed.ts, restPlan), else, for the
 * S3 model only, a virtual-hosted bucket host (routes/table.ts, matchRestOperation, which
 * tests the model id `s3`; `s3` is the endpoint prefix of that model and of no other), else
 * the path. The upstream request is built from this one reading, so it names the bucket (or
 * access point) the policy decided on.
 */
type S3Addressing =
  | { readonly kind: 'path' }
  | { readonly kind: 'virtual-hosted'; readonly bucket: string }
  | { readonly kind: 'access-point'; readonly accessPoint: AccessPoint };

function s3Addressing(input: TargetInput): S3Addressing {
  const accessPoint = input.service === 's3' ? accessPointOf(input.host) : undefined;
  if (accessPoint !== undefined) return { kind: 'access-point', accessPoint };
  const bucket = input.endpointPrefix === 's3' ? virtualHostedBucket(input.host) : undefined;
  return bucket === undefined ? { kind: 'path' } : { kind: 'virtual-hosted', bucket };
}

/** The path with a virtual-hosted bucket moved into it (path style), as the classifier matched it. */
function pathStyle(addressing: S3Addressing, rawPath: string): string {
  return addressing.kind === 'virtual-hosted' ? `/${addressing.bucket}${rawPath === '/' ? '' : rawPath}` : rawPath;
}

function misrouted(why: string): CountersignError {
  return new CountersignError('MisroutedRequest', why);
}

/**
 * Chooses the upstream, so that it reads the request as the classifier did:
 *  - an override (LocalStack, a VPC or FIPS endpoint, a test emulator) is used like an SDK's
 *    custom endpoint: its own Host, and S3 in path style, so a virtual-hosted bucket moves from
 *    the host into the path. An access point cannot be named in a path: refused.
 *  - endpoint mode goes to the public endpoint of the model and region the agent signed for,
 *    S3 in path style as well (a bucket the Host named moves into the path; dotted bucket names
 *    keep a valid TLS name). An access point host goes to that access point, which must be in the
 *    signed region (its ARN names its region; another region's access point of the same name
 *    is another resource).
 *  - intercepted and absolute-URI requests go where the client sent them, host and path as they
 *    were classified, so AWS reads the same bucket from them. One exception: a host that serves
 *    the S3 API (legacy `s3-REGION` forms, whose host does not narrow the model) with a request
 *    the classifier placed in S3 Control by its path: S3 would read that path as a bucket and key.
 */
export function chooseTarget(input: TargetInput, overrides: ReadonlyMap<string, URL>): UpstreamTarget {
  const addressing = s3Addressing(input);
  const override = overrides.get(input.service) ?? overrides.get('*');
  if (override !== undefined) {
    if (addressing.kind === 'access-point') {
      throw misrouted(`The access point host ${input.host} cannot be sent to the upstream override ${override.origin}, which takes S3 requests in path style; a path names a bucket, not an access point.`);
    }
    const basePath = override.pathname === '/' ? '' : override.pathname.replace(/\/$/, '');
    return { origin: override.origin, host: override.host, rawPath: basePath + pathStyle(addressing, input.rawPath) };
  }
  if (input.mode === 'endpoint') {
    if (addressing.kind === 'access-point') {
      const { accessPoint } = addressing;
      if (accessPoint.region !== input.region) {
        throw misrouted(`The access point ${accessPoint.arn} is in ${accessPoint.region}, but the request was signed for ${input.region}.`);
      }
      const host = accessPointHost(accessPoint);
      return { origin: `https://${host}`, host, rawPath: input.rawPath };
    }
    const host = endpointHost(input.endpointPrefix, input.region);
    return { origin: `https://${host}`, host, rawPath: pathStyle(addressing, input.rawPath) };
  }
  if (input.endpointPrefix !== 's3' && isS3Host(input.host)) {
    throw misrouted(`The request to ${input.host} was classified for ${input.endpointPrefix}, but that host serves the S3 API, which would read the path as a bucket and key.`);
  }
  return { origin: `${input.scheme}://${input.authority}`, host: input.authority, rawPath: input.rawPath };
}
