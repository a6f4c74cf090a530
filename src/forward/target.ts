import { endpointHost, virtualHostedBucket } from '../aws/endpoints.js';

/** Where a request goes: an origin to connect to, the Host to send, and the path on the wire. */
export interface UpstreamTarget {
  readonly origin: string;
  readonly host: string;
  readonly rawPath: string;
}

/** How a request reached countersign; 'host' is a non-AWS host passed on by host rules. */
export type EntryMode = 'intercept' | 'absolute' | 'endpoint' | 'host';

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
 * Chooses the upstream. An override (LocalStack, a VPC or FIPS endpoint, a test emulator)
 * is used like an SDK's custom endpoint: its own Host, and S3 in path style, so a
 * virtual-hosted bucket moves from the host into the path. Otherwise intercepted and
 * absolute-URI requests go where the client sent them, and endpoint-mode requests go to the
 * public endpoint for the service and region the agent signed for.
 */
export function chooseTarget(input: TargetInput, overrides: ReadonlyMap<string, URL>): UpstreamTarget {
  const override = overrides.get(input.service) ?? overrides.get('*');
  if (override !== undefined) {
    const bucket = input.service === 's3' ? virtualHostedBucket(input.host) : undefined;
    const rawPath = bucket === undefined ? input.rawPath : `/${bucket}${input.rawPath === '/' ? '' : input.rawPath}`;
    const basePath = override.pathname === '/' ? '' : override.pathname.replace(/\/$/, '');
    return { origin: override.origin, host: override.host, rawPath: basePath + rawPath };
  }
  if (input.mode === 'endpoint') {
    const host = endpointHost(input.endpointPrefix, input.region);
    return { origin: `https://${host}`, host, rawPath: input.rawPath };
  }
  return { origin: `${input.scheme}://${input.authority}`, host: input.authority, rawPath: input.rawPath };
}
