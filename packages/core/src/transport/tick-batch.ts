import { TickFlush } from './tick-flush.js';

/**
 * Collects what is produced during one tick and hands it over together at the tick's end
 * (TickFlush). For NATS, for example: nats.js flushes its outbound buffer in a microtask after
 * the first publish, so publishes spread over the microtasks of a burst (each call's or reply's
 * promise chain ends at a different depth) leave in many small socket writes; published together
 * from one nextTick callback they leave in one.
 */
export class TickBatch<T> {
  private items: T[] = [];
  private readonly flush: (items: T[]) => void;
  private readonly tick = new TickFlush(() => this.run());

  constructor(flush: (items: T[]) => void) {
    this.flush = flush;
  }

  /** True while items wait for the end of the tick. */
  get holding(): boolean {
    return this.items.length > 0;
  }

  add(item: T): void {
    this.items.push(item);
    this.tick.request();
  }

  private run(): void {
    const items = this.items;
    this.items = [];
    this.flush(items);
  }
}
