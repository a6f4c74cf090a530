import { createHash } from 'node:crypto';
import type { AuditEvent, AuditRecord } from './events.js';

export const GENESIS = '0'.repeat(64);

/** JSON with keys sorted at every level, so a record hashes the same wherever it is re-serialised. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function hashRecord(record: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(canonicalJson(record)).digest('hex');
}

/** The chain's own fields; an event field of the same name is kept under `event.<name>` instead. */
const CHAIN_FIELDS = ['seq', 'at', 'replica', 'prev', 'hash'];

function withoutChainFields(event: AuditEvent): AuditEvent {
  if (!CHAIN_FIELDS.some((f) => Object.hasOwn(event, f))) return event;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) out[CHAIN_FIELDS.includes(key) ? `event.${key}` : key] = value;
  return out as AuditEvent;
}

/** Links events onto a chain that ends at (prev, seq). */
export function chain(events: readonly AuditEvent[], prev: string, seq: number, replica: string, now: () => Date = () => new Date()): AuditRecord[] {
  const records: AuditRecord[] = [];
  let last = prev;
  let next = seq;
  for (const event of events) {
    next += 1;
    const body = { ...withoutChainFields(event), seq: next, at: now().toISOString(), replica, prev: last };
    const hash = hashRecord(body);
    records.push({ ...body, hash });
    last = hash;
  }
  return records;
}

export type ChainBreak = { readonly seq: number | undefined; readonly index: number; readonly reason: string };

/**
 * Walks a log from its start: every record's hash must match its content, link to the record
 * before, and number one more than it. Returns the first broken link, or undefined when whole.
 * An edit breaks the record's hash; a deletion or reordering breaks the next link.
 */
export function verifyChain(records: Iterable<unknown>): { count: number; broken?: ChainBreak } {
  let prev = GENESIS;
  let expectedSeq = 1;
  let index = 0;
  for (const raw of records) {
    const record = raw as Partial<AuditRecord>;
    const seq = typeof record.seq === 'number' ? record.seq : undefined;
    const fail = (reason: string) => ({ count: index, broken: { seq, index, reason } });
    if (typeof record.hash !== 'string' || typeof record.prev !== 'string') return fail('not a chained audit record');
    const { hash, ...body } = record as AuditRecord;
    if (hashRecord(body) !== hash) return fail(`record ${seq ?? '?'} was altered: its content does not match its hash`);
    if (record.prev !== prev) return fail(`record ${seq ?? '?'} does not follow the record before it (a record was removed, inserted or moved)`);
    if (seq !== expectedSeq) return fail(`record ${seq ?? '?'} should be number ${expectedSeq} (a record was removed or moved)`);
    prev = hash;
    expectedSeq += 1;
    index += 1;
  }
  return { count: index };
}
