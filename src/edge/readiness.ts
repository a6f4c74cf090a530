import type { Logger } from '../audit/logger.js';
import type { PolicyStatus } from '../policy/store.js';

/** One dependency's state as /readyz shows it. */
export interface DependencyCheck {
  readonly ok: boolean;
  readonly [detail: string]: unknown;
}

export interface ReadinessDeps {
  readonly policyStatus: () => PolicyStatus | undefined;
  readonly caLoaded: () => boolean;
  /** True from SIGTERM on: the replica drains and should get no new traffic. */
  readonly shuttingDown?: () => boolean;
  /** Present when Redis is configured: resolves when it answers, rejects with why not. */
  readonly redisPing?: () => Promise<void>;
  /** The durable audit sink, when there is one. */
  readonly audit?: () => DependencyCheck;
  /** countersign's own AWS identity (broker/identity.ts). */
  readonly awsIdentity?: () => DependencyCheck;
  /** Each dependency's state after every probe (for a metric). */
  readonly onDependency?: (name: string, ok: boolean) => void;
  readonly onReady?: (ready: boolean) => void;
  readonly logger?: Logger;
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly status: 'ready' | 'degraded' | 'not ready';
  /** What makes this replica unready, and which dependencies are degraded. */
  readonly unready: readonly string[];
  readonly degraded: readonly string[];
  readonly checks: Record<string, DependencyCheck>;
}

/** A Redis that does not answer in this long counts as down (a probe must answer before kubelet gives up). */
const PING_TIMEOUT_MS = 2_000;

/**
 * Readiness means "this replica can serve traffic". It is unready only for what it cannot
 * serve without: no policy set in force, no CA to intercept TLS with, or shutting down (so the
 * Service stops sending while in-flight requests finish). A dependency every replica shares
 * (Redis, the durable audit sink, STS and countersign's own AWS identity) is *degraded*, not
 * unready: taking every replica out of the Service for it would turn a partial outage (approve
 * rules fail closed, allow and deny rules keep working) into a total one. Degraded shows in the
 * body (200, status "degraded"), in countersign_dependency_healthy, and in one log line per
 * change, each way.
 */
export class Readiness {
  private readonly last = new Map<string, boolean>();
  private lastReady: boolean | undefined;

  constructor(private readonly deps: ReadinessDeps) {}

  async report(): Promise<ReadinessReport> {
    const checks: Record<string, DependencyCheck> = {};
    const unready: string[] = [];
    const degraded: string[] = [];
    const policies = this.deps.policyStatus();
    checks.policies = policies === undefined ? { ok: false, error: 'no policy set is loaded' } : { ok: true, ...policies };
    checks.ca = { ok: this.deps.caLoaded() };
    const shuttingDown = this.deps.shuttingDown?.() === true;
    checks.shutdown = { ok: !shuttingDown, ...(shuttingDown && { error: 'shutting down: finishing in-flight requests' }) };
    for (const name of ['policies', 'ca', 'shutdown']) if (checks[name]?.ok !== true) unready.push(name);

    if (this.deps.redisPing !== undefined) checks.redis = await ping(this.deps.redisPing);
    if (this.deps.audit !== undefined) checks.audit = this.deps.audit();
    if (this.deps.awsIdentity !== undefined) checks.awsIdentity = this.deps.awsIdentity();
    for (const name of ['redis', 'audit', 'awsIdentity']) {
      const check = checks[name];
      if (check === undefined) continue;
      if (!check.ok) degraded.push(name);
      this.observe(name, check);
    }
    const ready = unready.length === 0;
    if (ready !== this.lastReady) {
      if (this.lastReady !== undefined || !ready) this.deps.logger?.[ready ? 'info' : 'warn']({ event: ready ? 'readiness.ready' : 'readiness.unready', unready }, ready ? 'ready to serve traffic' : `not ready: ${unready.join(', ')}`);
      this.lastReady = ready;
      this.deps.onReady?.(ready);
    }
    return { ready, status: !ready ? 'not ready' : degraded.length > 0 ? 'degraded' : 'ready', unready, degraded, checks };
  }

  /** Metric every time; a log line only when a dependency changes state. */
  private observe(name: string, check: DependencyCheck): void {
    this.deps.onDependency?.(name, check.ok);
    const before = this.last.get(name);
    this.last.set(name, check.ok);
    if (before === check.ok || (before === undefined && check.ok)) return;
    const detail = typeof check.error === 'string' ? check.error : undefined;
    if (check.ok) this.deps.logger?.info({ event: 'dependency.recovered', dependency: name }, `${name} is healthy again`);
    else this.deps.logger?.warn({ event: 'dependency.degraded', dependency: name, ...(detail !== undefined && { error: detail }) }, `degraded: ${name} is unhealthy; this replica keeps serving what does not need it`);
  }
}

async function ping(redisPing: () => Promise<void>): Promise<DependencyCheck> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redisPing(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
      }),
    ]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error), effect: 'approve rules fail closed; allow and deny rules keep working' };
  } finally {
    clearTimeout(timer);
  }
}
