import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import type { Logger } from '../audit/logger.js';
import { classifyStsFailure, describeStsFailure, type StsFailure } from './sts-errors.js';

/** countersign's own AWS identity, as STS last told it. */
export type AwsIdentity =
  | { readonly status: 'checking' }
  | { readonly status: 'ok'; readonly arn: string; readonly account: string; readonly checkedAt: string }
  | { readonly status: StsFailure; readonly error: string; readonly checkedAt: string; readonly lastKnownArn?: string };

export interface IdentityMonitorOptions {
  readonly sts: STSClient;
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** Between checks while the identity is known (GetCallerIdentity is free, needs no permission, and is not throttled much). */
  readonly okIntervalMs?: number;
  /** Between checks while it is not: a fixed credential problem shows within this long. */
  readonly failIntervalMs?: number;
  /** After every check (for the countersign_aws_identity_info metric). */
  readonly onCheck?: (identity: AwsIdentity) => void;
}

/**
 * Which AWS identity countersign runs as, checked with sts:GetCallerIdentity at start and then
 * periodically, with the same provider chain the minter uses. An operator reads it in /readyz,
 * the countersign_dependency_healthy{dependency="awsIdentity"} metric and one log line per
 * change: the identity's ARN, or exactly what is missing (no credentials, expired, not
 * accepted, STS unreachable). A failing identity does not make the replica unready (deny and
 * approval holds still work, and every replica shares the cause); minting fails with the same
 * words (minter.ts).
 */
export class AwsIdentityMonitor {
  private current: AwsIdentity = { status: 'checking' };
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly okIntervalMs: number;
  private readonly failIntervalMs: number;

  constructor(private readonly options: IdentityMonitorOptions) {
    this.okIntervalMs = options.okIntervalMs ?? 5 * 60_000;
    this.failIntervalMs = options.failIntervalMs ?? 30_000;
  }

  get identity(): AwsIdentity {
    return this.current;
  }

  /** Checks now and keeps checking; resolves with the first result (never rejects). */
  start(): Promise<AwsIdentity> {
    return this.check();
  }

  async check(): Promise<AwsIdentity> {
    clearTimeout(this.timer);
    const next = await this.ask();
    const before = this.current;
    this.current = next;
    this.report(before, next);
    this.options.onCheck?.(next);
    if (!this.stopped) {
      this.timer = setTimeout(() => void this.check(), next.status === 'ok' ? this.okIntervalMs : this.failIntervalMs);
      this.timer.unref();
    }
    return next;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async ask(): Promise<AwsIdentity> {
    const checkedAt = new Date().toISOString();
    try {
      const out = await this.options.sts.send(new GetCallerIdentityCommand({}), { abortSignal: AbortSignal.timeout(this.options.timeoutMs) });
      if (out.Arn === undefined || out.Account === undefined) throw new Error('GetCallerIdentity answered without an ARN');
      return { status: 'ok', arn: out.Arn, account: out.Account, checkedAt };
    } catch (error) {
      const failure = classifyStsFailure(error);
      const detail = `${error instanceof Error ? error.name : 'Error'}: ${error instanceof Error ? error.message : String(error)}`;
      const lastKnownArn = this.current.status === 'ok' ? this.current.arn : this.current.status !== 'checking' ? this.current.lastKnownArn : undefined;
      return { status: failure, error: describeStsFailure(failure, detail), checkedAt, ...(lastKnownArn !== undefined && { lastKnownArn }) };
    }
  }

  /** One log line per change (the first result always): the identity, or what is wrong. */
  private report(before: AwsIdentity, next: AwsIdentity): void {
    const same = before.status === next.status && (next.status !== 'ok' || (before.status === 'ok' && before.arn === next.arn));
    if (same && before.status !== 'checking') return;
    if (next.status === 'ok') this.options.logger.info({ event: 'aws.identity', arn: next.arn, account: next.account }, `countersign's own AWS identity: ${next.arn}`);
    else if (next.status !== 'checking') this.options.logger.error({ event: 'aws.identity_unavailable', problem: next.status, error: next.error }, next.error);
  }
}

/** The identity as a /readyz check. */
export function identityCheck(identity: AwsIdentity): { ok: boolean; [detail: string]: unknown } {
  if (identity.status === 'ok') return { ok: true, ...identity };
  if (identity.status === 'checking') return { ok: true, status: 'checking' };
  return { ok: false, ...identity };
}
