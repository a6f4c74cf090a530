import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestAudit } from './record.js';

/** Services with a classifier; anything else is labelled "other", so an agent cannot mint label values. */
const KNOWN_SERVICES = new Set(['s3', 'dynamodb', 'sts', 'iam']);

export interface GaugeSources {
  readonly heldRequests: () => number;
  readonly auditQueueDepth: () => number;
  readonly auditHealthy: () => boolean;
  readonly auditDropped: () => number;
  readonly leafCache: () => { size: number; hits: number; misses: number };
  /** AssumeRole calls under way and waiting (bounded: broker/limiter.ts). */
  readonly stsCalls?: () => { running: number; waiting: number };
}

/**
 * Prometheus metrics for the admin listener. Labels are bounded: decision, a known service or
 * "other", and status class; never resource ARNs, agents or request ids.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: 'countersign_requests_total', help: 'AWS requests by decision, service and outcome', labelNames: ['decision', 'service', 'outcome'] as const, registers: [this.registry] });
  private readonly upstream = new Histogram({ name: 'countersign_upstream_seconds', help: 'Time from sending upstream to the end of the answer, by service', labelNames: ['service'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry] });
  private readonly sts = new Histogram({ name: 'countersign_sts_mint_seconds', help: 'STS AssumeRole latency (cache misses only)', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry] });
  private readonly credentials = new Counter({ name: 'countersign_sts_credentials_total', help: 'Credentials served, by cache hit or miss (hit ratio = hit / total)', labelNames: ['cache'] as const, registers: [this.registry] });
  private readonly approvalWait = new Histogram({ name: 'countersign_approval_wait_seconds', help: 'How long held requests waited for a decision', buckets: [0.1, 0.5, 1, 5, 10, 30, 55, 120, 300, 900], registers: [this.registry] });
  private readonly reloads = new Counter({ name: 'countersign_policy_reloads_total', help: 'Policy loads, by result', labelNames: ['result'] as const, registers: [this.registry] });
  private readonly dependencies = new Gauge({ name: 'countersign_dependency_healthy', help: '1 when a shared dependency (redis, audit, awsIdentity) answered the last probe; 0 means degraded, not unready', labelNames: ['dependency'] as const, registers: [this.registry] });
  private readonly readiness = new Gauge({ name: 'countersign_ready', help: '1 when this replica is ready to serve traffic (/readyz 200)', registers: [this.registry] });
  private readonly identity = new Gauge({ name: 'countersign_aws_identity_info', help: "countersign's own AWS identity: 1 for the ARN it runs as (status ok), or for what is wrong (arn empty, status no_credentials, expired, invalid_credentials, unreachable, ...)", labelNames: ['arn', 'account', 'status'] as const, registers: [this.registry] });

  constructor(sources: GaugeSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'countersign_' });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
    gauge('countersign_approvals_held', 'Agent requests held on this replica waiting for approval', sources.heldRequests);
    gauge('countersign_audit_queue_depth', 'Audit records waiting for the durable log', sources.auditQueueDepth);
    gauge('countersign_audit_sink_healthy', '1 when the durable audit log took the last batch', () => (sources.auditHealthy() ? 1 : 0));
    gauge('countersign_audit_records_dropped', 'Audit records dropped from a full queue (they remain in the stdout log)', sources.auditDropped);
    gauge('countersign_tls_leaf_cache_size', 'Intercepted hosts with a cached leaf certificate', () => sources.leafCache().size);
    gauge('countersign_tls_leaf_cache_hits', 'Leaf certificate cache hits', () => sources.leafCache().hits);
    gauge('countersign_tls_leaf_cache_misses', 'Leaf certificates generated', () => sources.leafCache().misses);
    const sts = sources.stsCalls;
    if (sts !== undefined) {
      gauge('countersign_sts_calls_running', 'STS AssumeRole calls under way', () => sts().running);
      gauge('countersign_sts_calls_waiting', 'Requests waiting for an STS call slot', () => sts().waiting);
    }
  }

  /** Everything a finished request tells: its decision, outcome and timings. */
  observeRequest(audit: RequestAudit): void {
    const service = audit.service !== undefined && KNOWN_SERVICES.has(audit.service) ? audit.service : 'other';
    const outcome = audit.upstreamStatus !== undefined ? `upstream_${Math.floor(audit.upstreamStatus / 100)}xx` : (audit.errorCode ?? 'refused');
    this.requests.inc({ decision: audit.decision ?? 'none', service, outcome });
    if (audit.durationsMs.upstream !== undefined) this.upstream.observe({ service }, audit.durationsMs.upstream / 1000);
    if (audit.credentialsCached !== undefined) {
      this.credentials.inc({ cache: audit.credentialsCached ? 'hit' : 'miss' });
      if (!audit.credentialsCached && audit.durationsMs.sts !== undefined) this.sts.observe(audit.durationsMs.sts / 1000);
    }
    if (audit.durationsMs.approval !== undefined) this.approvalWait.observe(audit.durationsMs.approval / 1000);
  }

  dependency(name: string, ok: boolean): void {
    this.dependencies.set({ dependency: name }, ok ? 1 : 0);
  }

  ready(ok: boolean): void {
    this.readiness.set(ok ? 1 : 0);
  }

  /** One series at a time: the identity's latest state (one process has one identity, so the labels stay bounded). */
  awsIdentity(identity: { readonly status: string; readonly arn?: string; readonly account?: string }): void {
    this.identity.reset();
    this.identity.set({ arn: identity.arn ?? '', account: identity.account ?? '', status: identity.status }, 1);
  }

  policyLoaded(ok: boolean): void {
    this.reloads.inc({ result: ok ? 'ok' : 'rejected' });
  }
}
