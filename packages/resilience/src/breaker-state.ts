/** What state a breaker is in: closed (calls pass), open (refused), halfOpen (one probe may pass). */
export type BreakerState = 'closed' | 'open' | 'halfOpen';

/** A breaker changed state: what telemetry and logs are told. */
export interface BreakerStateChange {
  readonly service: string;
  readonly method: string;
  /** The node, as the registry knows it. */
  readonly address: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** Date.now() when it changed. */
  readonly at: number;
}

export type StateChangeListener = (change: BreakerStateChange) => void;

/**
 * The listeners of a set of breakers. A listener that throws is a bug in it: the breaker has
 * changed state all the same, the other listeners are told, and the error is thrown again on
 * its own (an uncaught exception, as from an EventEmitter's listener), not into a call.
 */
export class StateListeners {
  private readonly listeners = new Set<StateChangeListener>();

  add(listener: StateChangeListener): () => void {
    // A wrapper per subscription, so the same function added twice is told twice and each unsubscribe removes one.
    const entry: StateChangeListener = (change) => listener(change);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  emit(change: BreakerStateChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
