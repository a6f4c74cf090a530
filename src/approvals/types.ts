/**
 * Approval definitions: the record every replica shares (in Redis, or in memory on a single
 * node), and the outcomes of the transitions on it. Plain data; the stores own the atomicity.
 */

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'consumed';

/**
 * How uses are counted (docs/approvals.md): a `change` spends a use on every send; a `read` is
 * one intent (a HEAD then the GET of one object, its ranged GETs, a listing's pages) and spends
 * one use however many requests it takes while the approval is valid.
 */
export type Intent = 'read' | 'change';

/** One (action, resource) the session policy will allow; `pattern` when its wildcards are meant. */
export interface BoundGrant {
  readonly action: string;
  readonly resource: string;
  readonly pattern?: true;
}

/**
 * What the reviewers approved, exactly: a request may use the approval only if it decides to
 * all of this again (src/approvals/binding.ts).
 */
export interface ApprovalBinding {
  readonly agent: string;
  /** The credential scope the agent signed for. */
  readonly service: string;
  readonly region: string;
  /** The role the minted session assumes, and its account. */
  readonly roleArn: string;
  readonly account: string;
  /** The decided grants, sorted. */
  readonly grants: readonly BoundGrant[];
  /** SHA-256 over the parameters the approval covers (for a read, less those that only shape the answer). */
  readonly parametersSha256: string;
}

/** One approve rule's demand: this many distinct reviewers from this set. */
export interface Requirement {
  readonly rule: string;
  readonly quorum: number;
  /** Reviewer ids who may approve under this rule (owners of the agent already removed). */
  readonly eligible: readonly string[];
  /** The rule's `description`, written for reviewers (shown on the review page, escaped). */
  readonly description?: string;
}

export interface Review {
  readonly reviewer: string;
  readonly decision: 'approve' | 'deny';
  readonly comment: string;
  readonly at: number;
  /** An approval for a while: this reviewer approved the same binding for this many minutes (absent: once). */
  readonly windowMinutes?: number;
}

/** The last request an approval let go, and what AWS answered it (once the request finished). */
export interface ApprovalUse {
  readonly requestId: string;
  readonly at: number;
  readonly upstreamStatus?: number;
}

/** What the reviewer sees and the audit records; no secret, no header, no credential. */
export interface ApprovalContext {
  /** What was approved, exactly; consuming re-checks it. */
  readonly binding: ApprovalBinding;
  readonly agent: string;
  readonly owners: readonly string[];
  readonly service: string;
  readonly operation: string;
  readonly region: string;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly rules: readonly string[];
  /** Why each rule matched (reason codes). */
  readonly reasons: readonly string[];
  /** Request parameters, decoded, pretty-printed and truncated for display. */
  readonly parametersPreview: string;
  /** The agent's own words (X-Countersign-Reason) and run id (X-Countersign-Context), as sent. */
  readonly agentReason?: string;
  readonly agentContext?: string;
  readonly method: string;
  readonly host: string;
  readonly path: string;
}

export interface ApprovalRecord {
  readonly id: string;
  /** The store's lookup key (binding.ts): the exact request for a change, the intent for a read. */
  readonly fingerprint: string;
  readonly intent: Intent;
  readonly status: ApprovalStatus;
  readonly context: ApprovalContext;
  readonly requirements: readonly Requirement[];
  readonly reviews: readonly Review[];
  readonly createdAt: number;
  /** Pending until this time, then expired. */
  readonly expiresAt: number;
  readonly decidedAt?: number;
  /** An approval serves retries of the same request until this time. */
  readonly approvedUntil?: number;
  readonly usesLeft: number;
  readonly consumedAt?: number;
  /** The longest window (approve for a while) the rules allow; absent: approvals are for the request only. */
  readonly maxWindowMs?: number;
  /** The store's window lookup key (binding.ts, windowKey): the binding and intent, never the request bytes. */
  readonly windowKey?: string;
  /** Set when approved for a while: it then serves the same binding, any number of times, until approvedUntil. */
  readonly windowMinutes?: number;
  readonly lastUse?: ApprovalUse;
  /** Requests it let go. */
  readonly timesUsed?: number;
}

/** A new approval request, before the store gives it an id and times. */
export interface ApprovalDraft {
  readonly fingerprint: string;
  readonly intent: Intent;
  readonly context: ApprovalContext;
  readonly requirements: readonly Requirement[];
  readonly pendingTimeoutMs: number;
  readonly maxUses: number;
  readonly maxWindowMs?: number;
  readonly windowKey?: string;
}

/** How a reviewer approves: once (the default), or for a while (windowMinutes, up to the rules' maxWindow). */
export interface ReviewOptions {
  readonly windowMinutes?: number;
}

export type ReviewOutcome =
  | { readonly ok: true; readonly record: ApprovalRecord }
  | { readonly ok: false; readonly reason: 'not_found' | 'not_pending' | 'expired' | 'not_eligible' | 'owner' | 'already_reviewed' | 'window_not_allowed' | 'window_too_long'; readonly record?: ApprovalRecord };

export type ConsumeOutcome =
  | { readonly ok: true; readonly record: ApprovalRecord }
  | { readonly ok: false; readonly reason: 'not_found' | 'not_approved' | 'used_up' | 'expired'; readonly record?: ApprovalRecord };

/** A decision event, published so the replica holding the agent's connection resumes at once. */
export interface DecisionEvent {
  readonly id: string;
  readonly status: ApprovalStatus;
}

/**
 * The store every replica shares. Each transition is atomic on the server: two reviewers at
 * once, approve against expiry, and two retries consuming one approval all resolve to exactly
 * one outcome.
 */
export interface ApprovalStore {
  /**
   * The live record for this fingerprint (pending, approved with uses left or, for a read, still
   * valid), else a record approved for a while under the draft's windowKey, else a new pending one.
   */
  findOrCreate(draft: ApprovalDraft, now: number): Promise<{ record: ApprovalRecord; created: boolean }>;
  get(id: string, now: number): Promise<ApprovalRecord | undefined>;
  /** The newest LIST_LIMIT records within retention (of `status`, if given), oldest first. */
  list(now: number, status?: ApprovalStatus): Promise<ApprovalRecord[]>;
  review(id: string, reviewer: string, decision: 'approve' | 'deny', comment: string, now: number, options?: ReviewOptions): Promise<ReviewOutcome>;
  /** One use; `requestId` names the request it lets go (the record's lastUse). */
  consume(id: string, now: number, requestId?: string): Promise<ConsumeOutcome>;
  /** What AWS answered the request an approval let go (kept when it is still the record's lastUse). */
  recordOutcome(id: string, requestId: string, upstreamStatus: number | undefined, now: number): Promise<void>;
  /** Calls back on every decision made by any replica (approved, denied, expired). */
  onDecision(listener: (event: DecisionEvent) => void): void;
  /** Throws when the store cannot be reached (approve rules then fail closed). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A listing is a reviewer's queue, not an export: at most this many records, the newest that
 * match (a pending request is always among the newest: it expires), so a busy week of decided
 * requests never hides a new pending one.
 */
export const LIST_LIMIT = 1000;
