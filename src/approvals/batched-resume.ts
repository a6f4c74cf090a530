/**
 * Resumes held requests a batch per turn of the event loop. One decision, or one hold timeout
 * shared by thousands of copies of a request, would otherwise resume them all in one go: each
 * then builds its answer and audit record before the loop can read a socket again, a stall
 * that grows with the number held. In batches, other connections are served in between.
 */
/** Held requests resumed per turn of the event loop. */
export const RESUME_BATCH = 128;

export class BatchedResume {
  private readonly queue: Array<() => void> = [];
  private scheduled = false;

  constructor(private readonly batchSize = RESUME_BATCH) {}

  resume(continuation: () => void): void {
    this.queue.push(continuation);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    for (const continuation of this.queue.splice(0, this.batchSize)) continuation();
    if (this.queue.length > 0) setImmediate(() => this.drain());
    else this.scheduled = false;
  }
}
