import type { AuditEvent } from './events.js';

/** Where catalogue events are sent (the AuditLog: stdout always, the durable log when configured). */
export type AuditEmitter = (event: AuditEvent) => void;
