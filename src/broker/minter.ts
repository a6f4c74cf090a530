import { randomBytes } from 'node:crypto';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import type { Credentials } from '../aws/sigv4.js';
import { CountersignError } from '../errors.js';

/** Credentials minted by STS for one role and one session policy. */
export interface MintedCredentials extends Credentials {
  readonly sessionToken: string;
  readonly expiresAt: number;
  readonly sessionName: string;
}

export interface MintRequest {
  readonly roleArn: string;
  readonly sessionPolicy: string;
  readonly durationSeconds: number;
  readonly agent: string;
  /** The request that mints: it names the session, so CloudTrail leads back to the audit record. */
  readonly requestId: string;
  /** For approved calls: the approval and who approved (session tags; never shared with other calls). */
  readonly approvalId?: string;
  readonly approvers?: readonly string[];
  /** Extra session tags from the rule. */
  readonly tags?: Readonly<Record<string, string>>;
}

export interface MintResult {
  readonly credentials: MintedCredentials;
  readonly cached: boolean;
}

export interface MinterOptions {
  readonly region: string;
  /** STS endpoint override (LocalStack, VPC endpoint, FIPS, tests). */
  readonly endpoint?: string;
  /** Entries kept at most; the oldest is dropped first. */
  readonly maxCached?: number;
}

/** Minted credentials are not reused in their last minutes, so a forwarded call never outlives them. */
const EXPIRY_MARGIN_MS = 5 * 60 * 1000;

/**
 * STS AssumeRole with the proxy's own credentials (the standard AWS provider chain: env,
 * profile, IRSA/web identity, container, instance). Credentials for the same agent, role and
 * session policy are cached for their lifetime, and concurrent requests share one STS call,
 * so an allow rule costs at most one STS call per (agent, role, scope) per credential lifetime.
 */
export class CredentialMinter {
  private readonly sts: STSClient;
  private readonly cache = new Map<string, Promise<MintedCredentials>>();
  private readonly maxCached: number;

  constructor(options: MinterOptions) {
    this.sts = new STSClient({
      region: options.region,
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      maxAttempts: 2,
    });
    this.maxCached = options.maxCached ?? 10_000;
  }

  async mint(request: MintRequest): Promise<MintResult> {
    // A session is the agent's own (its SourceIdentity and tags name it in CloudTrail), and an
    // approval's credentials are that approval's: neither is ever reused for anyone else.
    const key = JSON.stringify([request.agent, request.roleArn, request.durationSeconds, request.approvalId ?? '', request.tags ?? {}, request.sessionPolicy]);
    const existing = this.cache.get(key);
    if (existing !== undefined) {
      const credentials = await existing;
      if (credentials.expiresAt - EXPIRY_MARGIN_MS > Date.now()) return { credentials, cached: true };
      this.cache.delete(key);
    }
    const pending = this.assumeRole(request);
    this.remember(key, pending);
    try {
      return { credentials: await pending, cached: false };
    } catch (error) {
      this.cache.delete(key);
      throw error;
    }
  }

  destroy(): void {
    this.sts.destroy();
  }

  private remember(key: string, pending: Promise<MintedCredentials>): void {
    if (this.cache.size >= this.maxCached) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, pending);
  }

  private async assumeRole(request: MintRequest): Promise<MintedCredentials> {
    const sessionName = roleSessionName(request.agent, request.requestId);
    try {
      const out = await this.sts.send(
        new AssumeRoleCommand({
          RoleArn: request.roleArn,
          RoleSessionName: sessionName,
          Policy: request.sessionPolicy,
          DurationSeconds: request.durationSeconds,
          // CloudTrail correlation (docs/audit.md): the agent stays on the session and any role
          // chained from it; the tags carry agent, request and approvers.
          SourceIdentity: request.agent,
          Tags: sessionTags(request),
        }),
      );
      const c = out.Credentials;
      if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined || c.SessionToken === undefined) {
        throw new CountersignError('AssumeRoleFailed', `STS returned no credentials for ${request.roleArn}.`);
      }
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiresAt: c.Expiration?.getTime() ?? Date.now() + request.durationSeconds * 1000,
        sessionName,
      };
    } catch (error) {
      if (error instanceof CountersignError) throw error;
      if (error instanceof STSServiceException) {
        throw new CountersignError('AssumeRoleFailed', `STS refused AssumeRole into ${request.roleArn}: ${error.name}: ${error.message}.`);
      }
      const message = error instanceof Error ? error.message : String(error);
      throw new CountersignError('AssumeRoleFailed', `STS could not be reached to assume ${request.roleArn}: ${message}.`);
    }
  }
}

/** `cs.<agent>.<request id>`: RoleSessionName allows [\w+=,.@-]{2,64}; CloudTrail shows it. */
export function roleSessionName(agent: string, requestId: string): string {
  const id = /^[\w-]{1,40}$/.test(requestId) ? requestId : randomBytes(8).toString('hex');
  return `cs.${agent.slice(0, 62 - 4 - id.length)}.${id}`;
}

/** Session tag values allow letters, digits, spaces and _ . : / = + - @ (at most 256 characters). */
function tagValue(value: string): string {
  return value.replace(/[^\p{L}\p{N} _.:/=+\-@]/gu, '_').slice(0, 256);
}

export function sessionTags(request: MintRequest): Array<{ Key: string; Value: string }> {
  const tags: Record<string, string> = { ...request.tags, 'countersign:agent': request.agent, 'countersign:request': request.requestId };
  if (request.approvalId !== undefined) tags['countersign:approval'] = request.approvalId;
  if (request.approvers !== undefined && request.approvers.length > 0) tags['countersign:approvers'] = request.approvers.join('+');
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value: tagValue(Value) }));
}
