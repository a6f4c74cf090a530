/** A call that found the queue full, or waited past its deadline. */
export class LimitExceeded extends Error {
  override readonly name = 'LimitExceeded';
  constructor(
    readonly reason: 'queue_full' | 'deadline',
    message: string,
  ) {
    super(message);
  }
}

/**
 * At most `maxActive` calls at once and `maxQueued` waiting; past that a call fails at once, and
 * a waiting call leaves the queue when its signal aborts. When STS is slow, the requests that
 * need it then cost a bounded number of sockets and promises instead of one more per request.
 */
export class ConcurrencyLimit {
  private active = 0;
  private readonly queue: Array<{ start: () => boolean }> = [];

  constructor(
    private readonly maxActive: number,
    private readonly maxQueued: number,
  ) {}

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  async run<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    await this.enter(signal);
    try {
      return await fn();
    } finally {
      this.active -= 1;
      // The next waiter whose deadline has not passed (one that has leaves with its own error).
      for (let next = this.queue.shift(); next !== undefined && !next.start(); next = this.queue.shift());
    }
  }

  private deadline(): LimitExceeded {
    return new LimitExceeded('deadline', `waited for one of ${this.maxActive} calls to STS under way until the deadline`);
  }

  private enter(signal: AbortSignal): Promise<void> {
    if (this.active < this.maxActive) {
      this.active += 1;
      return Promise.resolve();
    }
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(new LimitExceeded('queue_full', `${this.active} calls to STS are under way and ${this.queue.length} more are waiting`));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        start: () => {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) {
            reject(this.deadline());
            return false;
          }
          this.active += 1;
          resolve();
          return true;
        },
      };
      const onAbort = () => {
        const at = this.queue.indexOf(entry);
        if (at >= 0) this.queue.splice(at, 1);
        reject(this.deadline());
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(entry);
    });
  }
}
