import { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';

export interface StsClientOptions {
  readonly region: string;
  /** STS endpoint override (LocalStack, VPC endpoint, FIPS, tests). */
  readonly endpoint?: string;
  /** The longest one STS call may take, every attempt included (the caller also aborts at this deadline). */
  readonly timeoutMs: number;
  /** Fixed credentials instead of the provider chain (tests). */
  readonly credentials?: AwsCredentialIdentity;
}

/**
 * An STS client with bounded waits. Without them a blackholed STS (a dropped VPC endpoint, a
 * firewall that swallows SYNs) holds every minting request for the OS's TCP timeout, minutes.
 * The socket-level timeouts end a silent connection; the caller's abort signal ends one that
 * trickles. Credentials come from the standard AWS provider chain (env, profile, IRSA/web
 * identity, container, instance).
 */
export function createStsClient(options: StsClientOptions): STSClient {
  return new STSClient({
    region: options.region,
    ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
    maxAttempts: 2,
    ...(options.credentials !== undefined && { credentials: options.credentials }),
    requestHandler: { connectionTimeout: Math.min(options.timeoutMs, 3_000), requestTimeout: options.timeoutMs },
  });
}
