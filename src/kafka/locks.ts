/** Locks of the Kafka consumer (in-process, promise-based). */

/** A one-at-a-time lock: transactions of one producer must not overlap. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.then(() => undefined, () => undefined);
    return next;
  }
}

/**
 * Chunks of different partitions run side by side (shared); a suspect message runs alone
 * (exclusive), so that a death while it is in flight is its own (see poison-ledger.ts). Waiters
 * are served in arrival order: a lone message waits for the chunks already running, and chunks
 * that arrive after it wait for it, so neither kind starves the other.
 */
export class ChunkGate {
  private running = 0;
  private exclusive = false;
  private readonly queue: Array<{ exclusive: boolean; grant: () => void }> = [];

  /** Resolves to the release function once the caller may proceed. */
  enter(exclusive: boolean): Promise<() => void> {
    return new Promise((resolve) => {
      this.queue.push({ exclusive, grant: () => resolve(this.releaser()) });
      this.admit();
    });
  }

  /** How many holders are inside now (for tests). */
  get holders(): number {
    return this.running;
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      if (this.running === 0) this.exclusive = false;
      this.admit();
    };
  }

  private admit(): void {
    while (this.queue.length && !this.exclusive) {
      const head = this.queue[0];
      if (head.exclusive && this.running > 0) return;
      this.queue.shift();
      this.running++;
      this.exclusive = head.exclusive;
      head.grant();
    }
  }
}
