import type { AuditEvent, AuditRecord } from './events.js';

/** Where durable audit records go: a hash-chained, append-only log. */
export interface AuditSink {
  readonly kind: 'file' | 'redis';
  /** Appends the events, chained after the log's current head; resolves once they are stored. */
  append(events: readonly AuditEvent[], replica: string): Promise<AuditRecord[]>;
  /** Every record, oldest first. */
  read(): AsyncIterable<AuditRecord>;
  close(): Promise<void>;
}
