/** What an AddressMap entry carries: when it was last used, on the map's clock. */
export interface Touched {
  touched: number;
}

/**
 * Per-address state of a selector that learns, with bounded memory: a registry may churn
 * addresses forever (every deploy, every autoscaled instance), so an entry not touched for
 * `idle` (on whatever clock the owner passes: ms, or a count of selects) is forgotten, and the
 * map never holds more than `max` entries (the oldest inserted go first, a tenth at a time).
 * Sweeps run at most once per `idle / 2` or per `max / 10` additions, so their cost is spread
 * over many calls.
 */
export class AddressMap<T extends Touched> {
  private readonly entries = new Map<string, T>();
  private readonly idle: number;
  private readonly max: number;
  private nextSweep: number;
  /** Told of every entry forgotten, for owners that count entries by state. */
  private readonly onForget: ((entry: T) => void) | undefined;

  constructor(idle: number, max: number, onForget?: (entry: T) => void) {
    this.idle = idle;
    this.max = Math.max(1, max);
    this.nextSweep = -Infinity;
    this.onForget = onForget;
  }

  get size(): number {
    return this.entries.size;
  }

  get(address: string): T | undefined {
    return this.entries.get(address);
  }

  /** Drops an entry with nothing left to remember (not told to onForget). */
  delete(address: string): void {
    this.entries.delete(address);
  }

  /** Adds an entry; may sweep first (`now` on the owner's clock). */
  add(address: string, entry: T, now: number): T {
    if (this.entries.size >= this.max) this.sweep(now, true);
    this.entries.set(address, entry);
    return entry;
  }

  /** Forgets entries idle for longer than `idle`, when a sweep is due. Cheap to call on every select. */
  maybeSweep(now: number): void {
    if (now >= this.nextSweep) this.sweep(now, false);
  }

  private sweep(now: number, full: boolean): void {
    this.nextSweep = now + this.idle / 2;
    for (const [address, entry] of this.entries) {
      if (now - entry.touched > this.idle) this.forget(address, entry);
    }
    // Still full of live entries: the oldest inserted tenth make room (a Map iterates in insertion
    // order), so that the next sweep is max / 10 additions away, not the very next one.
    if (full) {
      const target = this.max - Math.ceil(this.max / 10);
      for (const [address, entry] of this.entries) {
        if (this.entries.size <= target) break;
        this.forget(address, entry);
      }
    }
  }

  private forget(address: string, entry: T): void {
    this.entries.delete(address);
    this.onForget?.(entry);
  }
}
