/**
 * A typed in-process topic. `publish` calls every subscriber and waits for none of them: a slow
 * or failing subscriber never delays the publisher, and its error goes to `onError` instead of
 * the publisher. Subscribers that need to finish before shutdown track their own work.
 */
export type Subscriber<T> = (event: T) => void | Promise<unknown>;

export class Topic<T> {
  private readonly subscribers = new Set<Subscriber<T>>();

  constructor(private readonly onError: (e: Error) => void = () => undefined) {}

  /** Returns the function that unsubscribes. */
  subscribe(fn: Subscriber<T>): () => void {
    this.subscribers.add(fn);
    return () => void this.subscribers.delete(fn);
  }

  publish(event: T): void {
    for (const fn of this.subscribers) {
      try {
        const r = fn(event);
        if (r && typeof (r as Promise<unknown>).catch === 'function') (r as Promise<unknown>).catch((e: unknown) => this.onError(asError(e)));
      } catch (e) {
        this.onError(asError(e));
      }
    }
  }

  get size(): number {
    return this.subscribers.size;
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
