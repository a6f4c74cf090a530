import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { ApprovalDraft, ApprovalRecord, ApprovalStatus, ApprovalStore, ConsumeOutcome, DecisionEvent, ReviewOptions, ReviewOutcome } from './types.js';
import { LIST_LIMIT } from './types.js';
import { applyReview, isLive, newRecord, refreshed, useOnce, windowOpen, withOutcome } from './transitions.js';

/**
 * The single-node store: the same contract as the Redis store (the same contract tests run
 * against both). Node runs one callback at a time, so each method is atomic as written.
 */
export class MemoryApprovalStore implements ApprovalStore {
  private readonly records = new Map<string, ApprovalRecord>();
  private readonly byFingerprint = new Map<string, string>();
  /** Records approved for a while, by window key (the binding, not the request bytes). */
  private readonly byWindow = new Map<string, string>();
  private readonly events = new EventEmitter();

  constructor() {
    this.events.setMaxListeners(0);
  }

  findOrCreate(draft: ApprovalDraft, now: number): Promise<{ record: ApprovalRecord; created: boolean }> {
    const existingId = this.byFingerprint.get(draft.fingerprint);
    const existing = existingId === undefined ? undefined : this.current(existingId, now);
    if (existing !== undefined && isLive(existing, now)) return Promise.resolve({ record: existing, created: false });
    const windowId = draft.windowKey === undefined ? undefined : this.byWindow.get(draft.windowKey);
    const window = windowId === undefined ? undefined : this.current(windowId, now);
    if (window !== undefined && window.windowKey === draft.windowKey && windowOpen(window, now)) return Promise.resolve({ record: window, created: false });
    const record = newRecord(randomUUID(), draft, now);
    this.records.set(record.id, record);
    this.byFingerprint.set(draft.fingerprint, record.id);
    return Promise.resolve({ record, created: true });
  }

  get(id: string, now: number): Promise<ApprovalRecord | undefined> {
    return Promise.resolve(this.current(id, now));
  }

  list(now: number, status?: ApprovalStatus): Promise<ApprovalRecord[]> {
    const all = [...this.records.keys()].map((id) => this.current(id, now)).filter((r): r is ApprovalRecord => r !== undefined);
    const matching = all.filter((r) => status === undefined || r.status === status).sort((a, b) => a.createdAt - b.createdAt);
    return Promise.resolve(matching.slice(-LIST_LIMIT));
  }

  review(id: string, reviewer: string, decision: 'approve' | 'deny', comment: string, now: number, options?: ReviewOptions): Promise<ReviewOutcome> {
    const record = this.current(id, now);
    if (record === undefined) return Promise.resolve({ ok: false, reason: 'not_found' });
    const outcome = applyReview(record, reviewer, decision, comment, now, options);
    if (outcome.ok) {
      if (outcome.record.windowMinutes !== undefined && outcome.record.windowKey !== undefined) this.byWindow.set(outcome.record.windowKey, id);
      this.save(outcome.record, record.status);
    }
    return Promise.resolve(outcome);
  }

  consume(id: string, now: number, requestId?: string): Promise<ConsumeOutcome> {
    const record = this.current(id, now);
    if (record === undefined) return Promise.resolve({ ok: false, reason: 'not_found' });
    const outcome = useOnce(record, now, requestId);
    if (outcome.ok) this.save(outcome.record, record.status);
    return Promise.resolve(outcome);
  }

  recordOutcome(id: string, requestId: string, upstreamStatus: number | undefined, now: number): Promise<void> {
    const record = this.current(id, now);
    if (record !== undefined) this.records.set(id, withOutcome(record, requestId, upstreamStatus));
    return Promise.resolve();
  }

  onDecision(listener: (event: DecisionEvent) => void): void {
    this.events.on('decision', listener);
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.events.removeAllListeners();
    return Promise.resolve();
  }

  /** The record with expiry applied (and announced) as of `now`. */
  private current(id: string, now: number): ApprovalRecord | undefined {
    const record = this.records.get(id);
    if (record === undefined) return undefined;
    const fresh = refreshed(record, now);
    if (fresh !== record) this.save(fresh, record.status);
    return fresh;
  }

  private save(record: ApprovalRecord, previous: ApprovalStatus): void {
    this.records.set(record.id, record);
    if (record.status !== previous && record.status !== 'consumed') {
      this.events.emit('decision', { id: record.id, status: record.status } satisfies DecisionEvent);
    }
  }
}
