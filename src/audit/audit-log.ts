import type { Logger } from './logger.js';
import type { AuditEvent } from './events.js';
import type { AuditSink } from './sink.js';

export interface AuditLogOptions {
  /** Flush at least this often. */
  readonly flushMs?: number;
  /** Records per append. */
  readonly batchSize?: number;
  /** Records kept while the durable sink is unreachable; past it the oldest are dropped, loudly. */
  readonly maxQueue?: number;
}

/**
 * Every audit event goes to stdout (pino, always) and, batched off the request path, to the
 * durable hash-chained log. When the durable sink fails, events wait in a bounded queue and
 * `healthy` turns false: approve rules then fail closed, allow rules continue, and every failure
 * and every dropped record is logged and counted: nothing is lost silently.
 */
export class AuditLog {
  private queue: AuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private failing = false;
  private failures = 0;
  private dropped = 0;
  private readonly flushMs: number;
  private readonly batchSize: number;
  private readonly maxQueue: number;

  constructor(
    private readonly logger: Logger,
    private readonly sink: AuditSink | undefined,
    private readonly replica: string,
    options: AuditLogOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 50;
    this.batchSize = options.batchSize ?? 500;
    this.maxQueue = options.maxQueue ?? 100_000;
  }

  /** The durable sink took the last batch (or there is none to take). */
  get healthy(): boolean {
    return !this.failing;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  get droppedRecords(): number {
    return this.dropped;
  }

  emit(event: AuditEvent, message = event.event): void {
    this.logger.info(event, message);
    if (this.sink === undefined) return;
    if (this.queue.length >= this.maxQueue) {
      this.queue.shift();
      this.dropped += 1;
      this.logger.error({ event: 'audit.record_dropped', dropped: this.dropped, queue: this.queue.length }, 'durable audit queue full: the oldest record was dropped (it is still in the stdout log)');
    }
    this.queue.push(event);
    this.timer ??= this.flushAfter(this.flushMs);
  }

  /** Writes everything queued; resolves when done or when the sink failed (records stay queued). */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    await this.sink?.close();
  }

  /**
   * A timer that has fired is forgotten before it flushes: one firing while a slow append is
   * under way joins that drain, and a remembered spent timer would stop emit from ever
   * scheduling another flush.
   */
  private flushAfter(ms: number): NodeJS.Timeout {
    return setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }

  private async drain(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.sink !== undefined && this.queue.length > 0) {
      const batch = this.queue.slice(0, this.batchSize);
      try {
        await this.sink.append(batch, this.replica);
        this.queue.splice(0, batch.length);
        if (this.failing) this.logger.warn({ event: 'audit.sink_recovered', sink: this.sink.kind, failures: this.failures }, 'durable audit log reachable again');
        this.failing = false;
        this.failures = 0;
      } catch (error) {
        this.failures += 1;
        if (!this.failing || this.failures % 20 === 0) {
          this.logger.error(
            { event: 'audit.sink_unavailable', sink: this.sink.kind, queued: this.queue.length, failures: this.failures, error: error instanceof Error ? error.message : String(error) },
            'durable audit log unavailable: records are queued, approvals fail closed',
          );
        }
        this.failing = true;
        this.timer = this.flushAfter(Math.min(5_000, this.flushMs * 2 ** Math.min(this.failures, 7)));
        return;
      }
    }
  }
}
