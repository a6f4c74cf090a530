/**
 * Last use of agent keys, recorded cheaply: a use is noted in memory (one map lookup on the
 * request's path) and a key is queued for writing at most once per WRITE_EVERY_MS; a timer off
 * the request path writes the queue in one batch. `agents list` is then at most about a minute
 * behind, and a busy key costs one write a minute, not one per request.
 */

export const WRITE_EVERY_MS = 60_000;
const FLUSH_EVERY_MS = 5_000;

export type LastUseWriter = (uses: ReadonlyMap<string, string>) => Promise<void> | void;

export class LastUseRecorder {
  /** When each key was last queued (ms), so a key is written at most once per WRITE_EVERY_MS. */
  private readonly queuedAt = new Map<string, number>();
  private pending = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly write: LastUseWriter) {
    this.timer = setInterval(() => void this.flush(), FLUSH_EVERY_MS);
    this.timer.unref();
  }

  note(accessKeyId: string, at: number): void {
    const last = this.queuedAt.get(accessKeyId);
    if (last !== undefined && at - last < WRITE_EVERY_MS) return;
    if (this.queuedAt.size >= 100_000) this.queuedAt.clear();
    this.queuedAt.set(accessKeyId, at);
    this.pending.set(accessKeyId, new Date(at).toISOString());
  }

  /** Writes what is queued; a failed write is dropped (last use is informational, never a gate). */
  flush(): Promise<void> {
    if (this.pending.size === 0) return this.flushing;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.flushing.then(async () => {
      try {
        await this.write(batch);
      } catch {
        // Informational only: the next use of the key queues it again after WRITE_EVERY_MS.
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

/**
 * The request path's audit record is where a use is known to be verified: a record that carries
 * a decision was identified by a checked signature (a refusal before that, such as a wrong
 * signature, has none), so a caller who only knows a key id cannot make it look used.
 */
export function noteVerifiedUse(registry: { recordUse(accessKeyId: string): void }, record: { readonly event?: string; readonly accessKeyId?: string; readonly decision?: unknown }): void {
  if (record.event !== 'request.forwarded' && record.event !== 'request.failed') return;
  const accessKeyId = record.accessKeyId;
  if (typeof accessKeyId === 'string' && record.decision !== undefined && accessKeyId.startsWith('CSAK')) registry.recordUse(accessKeyId);
}
