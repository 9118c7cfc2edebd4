/**
 * Calls in flight by id (a request id, a reply subject): what a Map would do, built so that a
 * busy server neither pays a hash per call nor makes the garbage collector keep finished calls.
 *
 * Why not a Map (or Set): V8 replaces a Map's hash table whenever additions and deletions fill
 * it, and links the old table to its successor for the sake of live iterators. A registry that
 * adds and deletes on every call leaves a chain of dead tables; once one has been promoted to the
 * old generation, the young-generation collector treats it as a root, so its successor survives
 * and is promoted in turn, and with them every call the tables still point to. Measured on the
 * TCP echo benchmark: 2.2 MB of the young generation survived each scavenge with Maps and Sets
 * here, 2 KB without, and scavenges took 4 ms instead of 0.4 ms (docs/performance.md, "Maps, Sets
 * and the young generation"). A dictionary-mode object has no such chain, but each addition or
 * deletion costs about 0.3 µs.
 *
 * So numeric ids, which transports hand out in sequence, live in a ring of slots indexed by the
 * id's low bits: an addition, lookup or deletion is an array access (about 20 ns for all three).
 * An id whose slot is still held by a call from a full turn of the ring ago goes to a dictionary
 * object beside it; the ring doubles when it is half full (and keeps that size: a table is as
 * large as its busiest moment, 16 bytes a slot). String keys use the dictionary.
 * Values must not be `undefined`.
 */
export class CallTable<K extends number | string, V> {
  private keys = new Float64Array(INITIAL_SLOTS);
  private slots: (V | undefined)[] = new Array<V | undefined>(INITIAL_SLOTS).fill(undefined);
  private mask = INITIAL_SLOTS - 1;
  private inSlots = 0;
  /** Entries whose slot was taken, and string keys. */
  private others: Record<string | number, V | undefined> = Object.create(null) as Record<string | number, V | undefined>;
  private inOthers = 0;

  get size(): number {
    return this.inSlots + this.inOthers;
  }

  get(key: K): V | undefined {
    if (typeof key === 'number') {
      const i = key & this.mask;
      const value = this.slots[i];
      if (value !== undefined && this.keys[i] === key) return value;
      if (this.inOthers === 0) return undefined;
    }
    return this.others[key];
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  set(key: K, value: V): void {
    if (typeof key === 'number') {
      const i = key & this.mask;
      const held = this.slots[i];
      if (held === undefined || this.keys[i] === key) {
        if (held === undefined) {
          if (this.inOthers > 0 && this.others[key] !== undefined) return this.setOther(key, value);
          this.inSlots++;
        }
        this.keys[i] = key;
        this.slots[i] = value;
        if (this.inSlots > this.mask >> 1) this.grow();
        return;
      }
    }
    this.setOther(key, value);
  }

  /** Removes the entry; false when there was none. */
  delete(key: K): boolean {
    return this.take(key) !== undefined;
  }

  /**
   * Removes the entry and returns it (undefined when there was none): `get` and `delete` in one
   * look-up, for the call that is answered, cancelled or failed and leaves the table.
   */
  take(key: K): V | undefined {
    if (typeof key === 'number') {
      const i = key & this.mask;
      const value = this.slots[i];
      if (value !== undefined && this.keys[i] === key) {
        this.slots[i] = undefined;
        this.inSlots--;
        return value;
      }
      if (this.inOthers === 0) return undefined;
    }
    const value = this.others[key];
    if (value === undefined) return undefined;
    delete this.others[key];
    this.inOthers--;
    return value;
  }

  /** The values as an array of their own: the caller may change the table while walking it. */
  values(): V[] {
    const out: V[] = [];
    for (const value of this.slots) if (value !== undefined) out.push(value);
    const others = this.others;
    for (const key in others) out.push(others[key]!);
    return out;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.inSlots = 0;
    this.others = Object.create(null) as Record<string | number, V | undefined>;
    this.inOthers = 0;
  }

  private setOther(key: K, value: V): void {
    if (this.others[key] === undefined) this.inOthers++;
    this.others[key] = value;
  }

  /** Doubles the ring and moves its entries to their new slots (the dictionary's stay: lookups find them there). */
  private grow(): void {
    const { keys, slots } = this;
    const size = slots.length * 2;
    this.keys = new Float64Array(size);
    this.slots = new Array<V | undefined>(size).fill(undefined);
    this.mask = size - 1;
    for (let i = 0; i < slots.length; i++) {
      const value = slots[i];
      if (value === undefined) continue;
      // Distinct slots before, distinct slots now: no collisions, no recount.
      const j = keys[i]! & this.mask;
      this.keys[j] = keys[i]!;
      this.slots[j] = value;
    }
  }
}

const INITIAL_SLOTS = 64;
