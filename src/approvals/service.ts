import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { AuditEmitter } from '../audit/emitter.js';
import type { Logger } from '../audit/logger.js';
import type { Classification } from '../aws/classify/index.js';
import { sha256Hex } from '../aws/sigv4.js';
import { hasBody, readBody } from '../http/body.js';
import { CountersignError } from '../errors.js';
import type { Decision } from '../policy/evaluate.js';
import type { DirectorySpec, ReviewerSpec } from '../policy/types.js';
import { bind, sameBinding } from './binding.js';
import { reviewApproval, type ReviewRequest } from './decide.js';
import { ApprovalGate } from './gate.js';
import type { ReviewTokens } from './links.js';
import { notifyAll, type Notifier } from './notify/index.js';
import type { ApprovalRecord, ApprovalStore, Requirement, ReviewOutcome } from './types.js';

export interface HoldInput {
  readonly requestId: string;
  readonly agent: string;
  readonly classification: Classification;
  readonly decision: Decision;
  readonly method: string;
  readonly host: string;
  readonly rawPath: string;
  /** The query as it goes on, still encoded (a presigned URL's own parameters removed). */
  readonly rawQuery: string;
  readonly headers: IncomingHttpHeaders;
  /** Every header line as sent: the approval is bound to all but transport and signing ones. */
  readonly rawHeaders: readonly string[];
  /** The buffered body (JSON and query APIs), or the stream still to read (S3). */
  readonly body: Buffer | undefined;
  readonly stream: Readable;
  readonly signal: AbortSignal;
}

export interface HoldOutcome {
  readonly approvalId: string;
  readonly approvers: readonly string[];
  /** The body, when it had to be read to bind the approval to it. */
  readonly body: Buffer | undefined;
}

export interface ApprovalServiceDeps {
  readonly store: ApprovalStore;
  readonly directory: () => DirectorySpec;
  readonly tokens: ReviewTokens;
  readonly notifiers: readonly Notifier[];
  /** Base URL of the review listener as reviewers reach it (links in notifications). */
  readonly reviewBaseUrl: () => string;
  readonly maxBufferedBodyBytes: number;
  readonly logger: Logger;
  readonly audit: AuditEmitter;
  /** Whether the durable audit log takes records: nobody approves what cannot be recorded. */
  readonly auditHealthy: () => boolean;
}

const EMPTY_SHA256 = sha256Hex(Buffer.alloc(0));
const PREVIEW_LIMIT = 4000;
const AGENT_TEXT_LIMIT = 1000;

/**
 * A request a rule holds for human approval: bind it to an approval record (joining the one a
 * retry already has), tell the reviewers, hold the agent's connection, and let it go only on a
 * quorum of approvals. The agent can request; nothing here lets it decide.
 */
export class ApprovalService {
  private readonly gate: ApprovalGate;

  constructor(private readonly deps: ApprovalServiceDeps) {
    this.gate = new ApprovalGate(deps.store, (record) => this.announce(record));
  }

  get held(): number {
    return this.gate.held;
  }

  /** Shutdown: answer every held request as pending, hold nothing new. */
  releaseAll(): void {
    this.gate.releaseAll();
  }

  async hold(input: HoldInput): Promise<HoldOutcome> {
    if (!this.deps.auditHealthy()) {
      throw new CountersignError('AuditUnavailable', `Request ${input.requestId} needs approval, and the durable audit log is unreachable, so it cannot be recorded.`);
    }
    const directory = this.deps.directory();
    const owners = directory.agents.find((a) => a.name === input.agent)?.owners ?? [];
    const requirements = input.decision.approvals.map((a): Requirement => ({ rule: a.rule, quorum: a.spec.quorum, eligible: eligibleReviewers(a.spec, directory, owners), ...(a.description !== undefined && { description: a.description }) }));
    const impossible = requirements.find((r) => r.eligible.length < r.quorum);
    if (impossible !== undefined) {
      throw new CountersignError(
        'ApprovalUnavailable',
        `Rule "${impossible.rule}" needs ${impossible.quorum} approval(s) from reviewers who do not own agent "${input.agent}", and only ${impossible.eligible.length} can give one. Request id ${input.requestId}.`,
      );
    }
    const { bodySha256, body } = await this.bindBody(input);
    const specs = input.decision.approvals.map((a) => a.spec);
    const bound = await bind({ agent: input.agent, classification: input.classification, decision: input.decision, method: input.method, host: input.host, rawPath: input.rawPath, rawQuery: input.rawQuery, rawHeaders: input.rawHeaders, bodySha256 });
    const draft = {
      fingerprint: bound.key,
      intent: bound.intent,
      context: {
        binding: bound.binding,
        agent: input.agent,
        owners,
        service: input.classification.service,
        operation: input.classification.operation,
        region: input.classification.region,
        actions: input.decision.grants.map((g) => g.action),
        resources: input.decision.grants.map((g) => g.resource),
        rules: [...input.decision.rules],
        reasons: input.decision.reasons.map((r) => r.code),
        parametersPreview: truncate(JSON.stringify(input.classification.parameters, null, 2), PREVIEW_LIMIT),
        method: input.method,
        host: input.host,
        path: input.rawPath,
        ...agentText('agentReason', input.headers['x-countersign-reason']),
        ...agentText('agentContext', input.headers['x-countersign-context']),
      },
      requirements,
      pendingTimeoutMs: Math.min(...specs.map((s) => s.pendingTimeoutSeconds)) * 1000,
      maxUses: Math.min(...specs.map((s) => s.maxUses)),
      ...windowing(specs, bound.windowKey),
    };
    const holdMs = Math.min(...specs.map((s) => s.holdTimeoutSeconds)) * 1000;
    // A window serves only while the rules still allow one that long (a reload may take it away or shorten it).
    const windowAllowed = (record: ApprovalRecord) => record.windowMinutes === undefined || (draft.maxWindowMs !== undefined && record.windowMinutes * 60_000 <= draft.maxWindowMs);
    const accepts = (record: ApprovalRecord) => record.intent === bound.intent && sameBinding(record.context.binding, bound.binding) && windowAllowed(record);
    const result = await this.gate.pass({ draft, holdMs, signal: input.signal, requestId: input.requestId, accepts });
    const record = result.record;
    switch (result.kind) {
      case 'go':
        this.deps.audit({
          event: 'approval.consumed',
          approvalId: record.id,
          requestId: input.requestId,
          agent: record.context.agent,
          usesLeft: record.usesLeft,
          approvedFor: record.windowMinutes === undefined ? 'once' : 'window',
          ...(record.windowMinutes !== undefined && { window: record.windowMinutes }),
          ...(record.approvedUntil !== undefined && { approvedUntil: new Date(record.approvedUntil).toISOString() }),
          ...agentWords(record),
        });
        return { approvalId: record.id, approvers: record.reviews.filter((r) => r.decision === 'approve').map((r) => r.reviewer), body };
      case 'denied': {
        const denial = record.reviews.find((r) => r.decision === 'deny');
        const said = denial?.comment ? `: "${denial.comment}"` : '';
        throw new CountersignError('ApprovalDenied', `Reviewer ${denial?.reviewer ?? '?'} denied this request${said}. Approval request ${record.id}.`);
      }
      case 'mismatch':
        throw new CountersignError(
          'ApprovalMismatch',
          record.windowMinutes !== undefined && sameBinding(record.context.binding, bound.binding)
            ? `Approval request ${record.id} was approved for ${record.windowMinutes} minutes, longer than the rules now allow (approval.maxWindow); it serves nothing more. Request id ${input.requestId}.`
            : `Approval request ${record.id} was made for other grants than this request decides to; it serves only what its reviewers saw. Request id ${input.requestId}.`,
        );
      case 'expired':
        this.deps.audit({ event: 'approval.expired', approvalId: record.id, requestId: input.requestId });
        throw new CountersignError('ApprovalExpired', `Approval request ${record.id} expired before it was approved (or its approval ran out); send the request again to ask anew.`);
      case 'pending': {
        const retryAfter = Math.max(1, Math.min(60, Math.ceil((record.expiresAt - Date.now()) / 1000)));
        throw new CountersignError(
          'ApprovalPending',
          `Approval request ${record.id} is waiting for ${describeNeeds(record)}. Retry the same request after it is approved, within ${Math.max(1, Math.ceil((record.expiresAt - Date.now()) / 60_000))} minute(s).`,
          { 'retry-after': String(retryAfter), 'x-countersign-approval-id': record.id },
        );
      }
    }
  }

  /**
   * A reviewer's decision from any channel (the review page and API, a chat app): applied by the
   * store and audited with its comment and window. `windowMinutes` approves the same binding for
   * that long (up to the rules' maxWindow); absent, the approval is for this request once.
   */
  review(request: ReviewRequest): Promise<ReviewOutcome> {
    return reviewApproval({ store: this.deps.store, audit: this.deps.audit, now: Date.now }, request);
  }

  /**
   * The request an approval let go has finished: what AWS answered it is kept on the record (the
   * review page shows it). Never throws: the answer is already on its way to the agent.
   */
  async finished(approvalId: string, requestId: string, upstreamStatus: number | undefined): Promise<void> {
    try {
      await this.deps.store.recordOutcome(approvalId, requestId, upstreamStatus, Date.now());
    } catch (error) {
      this.deps.logger.warn({ event: 'approval.outcome_unrecorded', approvalId, requestId, error: error instanceof Error ? error.message : String(error) }, "AWS's answer could not be kept on the approval record");
    }
  }

  /** The body's hash for the fingerprint; an S3 body without a declared hash is read (bounded) to get it. */
  private async bindBody(input: HoldInput): Promise<{ bodySha256: string; body: Buffer | undefined }> {
    if (input.body !== undefined) return { bodySha256: sha256Hex(input.body), body: input.body };
    const declared = input.headers['x-amz-content-sha256'];
    if (typeof declared === 'string' && /^[0-9a-f]{64}$/.test(declared)) return { bodySha256: declared, body: undefined };
    if (!hasBody(input.headers)) return { bodySha256: EMPTY_SHA256, body: undefined };
    const body = await readBody(input.stream as Parameters<typeof readBody>[0], this.deps.maxBufferedBodyBytes);
    return { bodySha256: sha256Hex(body), body };
  }

  /** A new approval request: audit it and tell the reviewers (failures are audited, never lost). */
  private announce(record: ApprovalRecord): void {
    const reviewers = new Map(this.deps.directory().reviewers.map((r) => [r.id, r] as const));
    const eligible = [...new Set(record.requirements.flatMap((r) => r.eligible))];
    this.deps.audit({
      event: 'approval.requested',
      approvalId: record.id,
      agent: record.context.agent,
      actions: record.context.actions,
      resources: record.context.resources,
      service: record.context.service,
      operation: record.context.operation,
      region: record.context.region,
      roleArn: record.context.binding.roleArn,
      intent: record.intent,
      rules: record.context.rules,
      eligible,
      expiresAt: new Date(record.expiresAt).toISOString(),
      ...(record.maxWindowMs !== undefined && { maxWindowMinutes: Math.floor(record.maxWindowMs / 60_000) }),
      ...agentWords(record),
    });
    const base = this.deps.reviewBaseUrl().replace(/\/$/, '');
    const links = eligible
      .map((id) => reviewers.get(id))
      .filter((r): r is ReviewerSpec => r !== undefined)
      .map((reviewer) => ({ reviewer, url: `${base}/approvals/${record.id}?t=${this.deps.tokens.linkToken(record.id, reviewer.id, record.expiresAt)}` }));
    void notifyAll(this.deps.notifiers, { record, links, reviewPageBaseUrl: base }, (channel, error) => {
      this.deps.audit({ event: 'approval.notify_failed', approvalId: record.id, channel, reason: error.reason, status: error.status, attempts: error.attempts, error: error.message });
    });
  }
}

/** Listed reviewers and members of listed groups, less the agent's owners. */
export function eligibleReviewers(spec: { reviewers: readonly string[]; groups: readonly string[] }, directory: DirectorySpec, owners: readonly string[]): string[] {
  const ids = new Set(spec.reviewers);
  for (const reviewer of directory.reviewers) if (reviewer.groups.some((g) => spec.groups.includes(g))) ids.add(reviewer.id);
  return [...ids].filter((id) => !owners.includes(id)).sort();
}

/** The agent's own words, for the durable audit log (the approval record expires; the log stays). */
function agentWords(record: ApprovalRecord): Record<string, string> {
  return {
    ...(record.context.agentReason !== undefined && { agentReason: record.context.agentReason }),
    ...(record.context.agentContext !== undefined && { agentContext: record.context.agentContext }),
  };
}

/**
 * The strictest window over every approve rule that matched (none unless each allows one), and
 * the key an open window is found by: only where one is allowed, so a reload that takes
 * maxWindow away also stops open windows from being found for new requests.
 */
function windowing(specs: ReadonlyArray<{ maxWindowSeconds?: number }>, windowKey: string): { maxWindowMs?: number; windowKey?: string } {
  if (specs.length === 0 || specs.some((s) => s.maxWindowSeconds === undefined)) return {};
  return { maxWindowMs: Math.min(...specs.map((s) => s.maxWindowSeconds ?? 0)) * 1000, windowKey };
}

function describeNeeds(record: ApprovalRecord): string {
  return record.requirements.map((r) => `${r.quorum} approval(s) from ${r.eligible.join(', ')}`).join(' and ');
}

function agentText(key: 'agentReason' | 'agentContext', value: string | string[] | undefined): Record<string, string> {
  const text = Array.isArray(value) ? value.join(', ') : value;
  return text === undefined || text === '' ? {} : { [key]: truncate(text, AGENT_TEXT_LIMIT) };
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}…`;
}
