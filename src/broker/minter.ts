import { randomBytes } from 'node:crypto';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { Credentials } from '../aws/sigv4.js';
import { CountersignError } from '../errors.js';
import { ConcurrencyLimit, LimitExceeded } from './limiter.js';
import { createStsClient } from './sts-client.js';
import { classifyStsFailure, describeStsFailure } from './sts-errors.js';

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
  /** The longest a request waits for credentials, queueing and every STS attempt included (default 5 s). */
  readonly timeoutMs?: number;
  /** AssumeRole calls under way at once (default 32), and calls allowed to wait for one (default 1024: at a typical 50-100 ms an AssumeRole, 32 at once drain a full queue in a few seconds, about the deadline); past both, a request fails at once. */
  readonly maxConcurrent?: number;
  readonly maxQueued?: number;
  /** Fixed credentials instead of the provider chain (tests). */
  readonly credentials?: AwsCredentialIdentity;
}

/** Seconds a client is told to wait (Retry-After) when STS is unavailable. */
const STS_RETRY_AFTER = '2';

/** Minted credentials are not reused in their last minutes, so a forwarded call never outlives them. */
const EXPIRY_MARGIN_MS = 5 * 60 * 1000;

/**
 * STS AssumeRole with the proxy's own credentials (the standard AWS provider chain: env,
 * profile, IRSA/web identity, container, instance). Credentials for the same agent, role and
 * session policy are cached for their lifetime, and concurrent requests share one STS call,
 * so an allow rule costs at most one STS call per (agent, role, scope) per credential lifetime.
 *
 * STS slow or unreachable: every mint has a deadline (queue wait and attempts included), at
 * most maxConcurrent calls are under way and maxQueued wait, so held work stays bounded; a
 * request past the deadline or the queue fails closed with StsUnavailable (503, Retry-After),
 * and a failed call is not cached, so the next request tries again and service recovers by
 * itself. Failures of countersign's own credentials say so (BrokerCredentialsUnavailable);
 * only what STS refuses about the role is AssumeRoleFailed.
 */
export class CredentialMinter {
  private readonly sts: STSClient;
  private readonly cache = new Map<string, Promise<MintedCredentials>>();
  private readonly maxCached: number;
  private readonly timeoutMs: number;
  private readonly limit: ConcurrencyLimit;

  constructor(options: MinterOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.sts = createStsClient({
      region: options.region,
      timeoutMs: this.timeoutMs,
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      ...(options.credentials !== undefined && { credentials: options.credentials }),
    });
    this.maxCached = options.maxCached ?? 10_000;
    this.limit = new ConcurrencyLimit(options.maxConcurrent ?? 32, options.maxQueued ?? 1024);
  }

  /** The STS client, shared with the identity check so both see the same credentials. */
  get client(): STSClient {
    return this.sts;
  }

  /** AssumeRole calls under way, and waiting for a turn. */
  get stsCalls(): { running: number; waiting: number } {
    return { running: this.limit.running, waiting: this.limit.waiting };
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
    const deadline = AbortSignal.timeout(this.timeoutMs);
    try {
      const out = await this.limit.run(
        () =>
          this.sts.send(
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
            { abortSignal: deadline },
          ),
        deadline,
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
      throw this.refusal(error, request.roleArn);
    }
  }

  private refusal(error: unknown, roleArn: string): CountersignError {
    if (error instanceof CountersignError) return error;
    if (error instanceof LimitExceeded) {
      return new CountersignError('StsUnavailable', `No credentials could be minted within ${this.timeoutMs} ms to assume ${roleArn}: ${error.message}.`, { 'retry-after': STS_RETRY_AFTER });
    }
    const failure = classifyStsFailure(error);
    const detail = `${error instanceof Error ? error.name : 'Error'}: ${error instanceof Error ? error.message : String(error)}`;
    if (failure === 'refused') return new CountersignError('AssumeRoleFailed', `STS refused AssumeRole into ${roleArn}: ${detail}.`);
    if (failure === 'unreachable' || failure === 'unavailable') {
      const what = failure === 'unreachable' ? `STS did not answer within ${this.timeoutMs} ms (${detail})` : describeStsFailure(failure, detail);
      return new CountersignError('StsUnavailable', `${what}, so no credentials could be minted to assume ${roleArn}.`, { 'retry-after': STS_RETRY_AFTER });
    }
    return new CountersignError('BrokerCredentialsUnavailable', `${describeStsFailure(failure, detail)}, so it cannot assume ${roleArn}.`);
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
