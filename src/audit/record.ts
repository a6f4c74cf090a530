import type { Classification } from '../aws/classify/index.js';
import type { Decision } from '../policy/evaluate.js';
import type { EntryMode } from '../http/inbound.js';

/**
 * The audit record of one request: who asked, what, which rule, what happened. It is built
 * from named fields only (no headers, no credentials), as the record of invariant 6.
 */
export interface RequestAudit {
  /** request.forwarded when AWS answered, request.failed otherwise (set when the request ends). */
  event: 'request.forwarded' | 'request.failed';
  [field: string]: unknown;
  requestId: string;
  mode: EntryMode;
  method: string;
  host: string;
  remoteAddress: string;
  agent?: string;
  accessKeyId?: string;
  service?: string;
  region?: string;
  operation?: string;
  actions?: string[];
  resources?: string[];
  decision?: 'allow' | 'deny' | 'approve';
  rules?: string[];
  reasons?: string[];
  /** The approval that let a held request go, and who approved it. */
  approvalId?: string;
  approvers?: string[];
  stsSession?: string;
  credentialsCached?: boolean;
  upstreamStatus?: number;
  status?: number;
  errorCode?: string;
  error?: string;
  durationsMs: { total?: number; approval?: number; sts?: number; upstream?: number };
}

export function recordClassification(audit: RequestAudit, classification: Classification): void {
  audit.service = classification.service;
  audit.region = classification.region;
  audit.operation = classification.operation;
  audit.actions = classification.needs.map((n) => n.action);
  audit.resources = classification.needs.map((n) => n.resource.arn);
}

export function recordDecision(audit: RequestAudit, decision: Decision): void {
  audit.decision = decision.effect;
  audit.rules = [...decision.rules];
  audit.reasons = decision.reasons.map((r) => r.code);
  if (decision.grants.length > 0) audit.resources = decision.grants.map((g) => g.resource);
}

/** The request.decided event: who asked what, and the decision, before any outcome. */
export function decidedEvent(audit: RequestAudit) {
  return {
    event: 'request.decided' as const,
    requestId: audit.requestId,
    agent: audit.agent,
    service: audit.service,
    operation: audit.operation,
    actions: audit.actions,
    resources: audit.resources,
    decision: audit.decision,
    rules: audit.rules,
    reasons: audit.reasons,
  };
}

/** Milliseconds since `start` (from process.hrtime.bigint()), to 0.01 ms. */
export function elapsedMs(start: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - start) / 10_000) / 100;
}
