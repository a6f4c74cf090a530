import { BatchedResume } from './batched-resume.js';
import type { ApprovalDraft, ApprovalRecord, ApprovalStore, ConsumeOutcome } from './types.js';

export type GateResult =
  | { readonly kind: 'go'; readonly record: ApprovalRecord }
  | { readonly kind: 'denied'; readonly record: ApprovalRecord }
  | { readonly kind: 'expired'; readonly record: ApprovalRecord }
  /** The hold ended before anyone decided; the request stays pending for a retry. */
  | { readonly kind: 'pending'; readonly record: ApprovalRecord }
  /** The record under this key was made for other grants: it serves nothing here. */
  | { readonly kind: 'mismatch'; readonly record: ApprovalRecord };

export interface GateRequest {
  readonly draft: ApprovalDraft;
  /** How long the agent's connection may be held (under common client read timeouts). */
  readonly holdMs: number;
  /** Aborted when the agent hangs up: stop holding. */
  readonly signal: AbortSignal;
  /** The request being held: a use names it (the record's lastUse). */
  readonly requestId?: string;
  /** Whether a record was made for exactly what this request decides to (checked before it is waited on or used). */
  readonly accepts: (record: ApprovalRecord) => boolean;
}

interface Waiter {
  readonly woken: Promise<boolean>;
  cancel(): void;
}

/**
 * Holds a request until its approval is decided, on whichever replica the reviewer used:
 * every store decision wakes the waiters for that record here. A retry of the same request
 * joins the existing record; an approved record is consumed atomically before the request
 * goes, so one approval never serves more uses than it allows.
 *
 * The same request held many times over (an agent retrying in a loop) must not turn one
 * decision into a stampede on the store: concurrent reads of one record share one read,
 * consumes of one record queue behind each other and stop at the first refusal (a used-up,
 * expired or denied record stays so), and identical drafts share one findOrCreate. Nor may it
 * stall the event loop: held requests resume a batch per turn (BatchedResume).
 */
export class ApprovalGate {
  private readonly waiters = new Map<string, Set<(woken: boolean) => void>>();
  /** Reads under way by record id; a decision drops them, so a read joined is never older than the last decision heard. */
  private readonly reads = new Map<string, Promise<ApprovalRecord | undefined>>();
  /** The tail of each record's consume queue. */
  private readonly consumes = new Map<string, Promise<ConsumeOutcome>>();
  /** findOrCreate calls under way by fingerprint. */
  private readonly opens = new Map<string, Promise<ApprovalRecord>>();
  private releasing = false;
  private readonly resumer = new BatchedResume();

  constructor(
    private readonly store: ApprovalStore,
    /** Called once per newly created record (notifications; never throws). */
    private readonly onCreated: (record: ApprovalRecord) => void,
    private readonly now: () => number = Date.now,
  ) {
    store.onDecision((event) => this.wake(event.id));
  }

  /** Requests held right now (for metrics and shutdown). */
  get held(): number {
    let count = 0;
    for (const set of this.waiters.values()) count += set.size;
    return count;
  }

  /**
   * Shutdown: every held request is answered as still pending (its approval stays in the
   * store, so a retry after the restart goes through once approved), and nothing new is held.
   */
  releaseAll(): void {
    this.releasing = true;
    for (const set of [...this.waiters.values()]) for (const finish of [...set]) finish(false);
  }

  async pass(request: GateRequest): Promise<GateResult> {
    let record = await this.open(request.draft);
    if (!request.accepts(record)) return { kind: 'mismatch', record };
    if (this.releasing) return { kind: 'pending', record };
    const deadline = this.now() + Math.max(0, Math.min(request.holdMs, record.expiresAt - this.now()));
    for (;;) {
      // An agent that hung up must not use up an approval it will never see.
      if (request.signal.aborted) return { kind: 'pending', record };
      const waiter = this.register(record.id, deadline - this.now(), request.signal);
      // Read after registering, so a decision made in between still wakes us.
      record = (await this.read(record.id)) ?? record;
      if (record.status !== 'pending') {
        waiter.cancel();
        const settled = await this.settle(record, request.draft, request.requestId);
        if (settled.kind !== 'reopened') return settled;
        record = settled.record;
        if (!request.accepts(record)) return { kind: 'mismatch', record };
        continue;
      }
      if (!(await waiter.woken) || this.releasing) {
        const latest = (await this.read(record.id)) ?? record;
        if (latest.status === 'pending') return { kind: 'pending', record: latest };
        record = latest;
      }
    }
  }

  private open(draft: ApprovalDraft): Promise<ApprovalRecord> {
    return shared(this.opens, draft.fingerprint, async () => {
      const { record, created } = await this.store.findOrCreate(draft, this.now());
      if (created) this.onCreated(record);
      return record;
    });
  }

  private read(id: string): Promise<ApprovalRecord | undefined> {
    return shared(this.reads, id, () => this.store.get(id, this.now()));
  }

  /** One use of an approved record, after the consumes queued before it; a refusal ends the queue's calls to the store. */
  private consume(id: string, requestId: string | undefined): Promise<ConsumeOutcome> {
    const previous = this.consumes.get(id);
    const next = (async () => {
      const before = await previous?.catch(() => undefined);
      return before !== undefined && !before.ok ? before : this.store.consume(id, this.now(), requestId);
    })();
    return remember(this.consumes, id, next);
  }

  /** A decided record: go (consuming one use), denied, expired, or reopened as a new request. */
  private async settle(record: ApprovalRecord, draft: ApprovalDraft, requestId: string | undefined): Promise<GateResult | { kind: 'reopened'; record: ApprovalRecord }> {
    if (record.status === 'denied') return { kind: 'denied', record };
    if (record.status === 'expired') return { kind: 'expired', record };
    if (record.status === 'approved') {
      const used = await this.consume(record.id, requestId);
      if (used.ok) return { kind: 'go', record: used.record };
      if (used.reason === 'expired') return { kind: 'expired', record: used.record ?? record };
    }
    // Consumed (by an earlier retry, or another racing for the last use): this send is a new request.
    return { kind: 'reopened', record: await this.open(draft) };
  }

  private register(id: string, ms: number, signal: AbortSignal): Waiter {
    let set = this.waiters.get(id);
    if (set === undefined) {
      set = new Set();
      this.waiters.set(id, set);
    }
    const waiters = set;
    let finish: (woken: boolean) => void = () => undefined;
    const woken = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => finish(false), Math.max(0, ms));
      const onAbort = () => finish(false);
      signal.addEventListener('abort', onAbort, { once: true });
      finish = (value: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        waiters.delete(finish);
        if (waiters.size === 0) this.waiters.delete(id);
        this.resumer.resume(() => resolve(value));
      };
      waiters.add(finish);
      if (signal.aborted) finish(false);
    });
    return { woken, cancel: () => finish(false) };
  }

  private wake(id: string): void {
    this.reads.delete(id);
    for (const finish of [...(this.waiters.get(id) ?? [])]) finish(true);
  }
}

/** The call under way for this key, or a new one. */
function shared<T>(calls: Map<string, Promise<T>>, key: string, call: () => Promise<T>): Promise<T> {
  return calls.get(key) ?? remember(calls, key, call());
}

/** Keeps the promise under its key until it settles (unless replaced meanwhile). */
function remember<T>(calls: Map<string, Promise<T>>, key: string, promise: Promise<T>): Promise<T> {
  calls.set(key, promise);
  const forget = () => {
    if (calls.get(key) === promise) calls.delete(key);
  };
  promise.then(forget, forget);
  return promise;
}
