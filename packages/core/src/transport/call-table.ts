/**
 * Calls in flight by id (a request id, a reply subject): what a Map would do, kept in a plain
 * dictionary object instead, because a Map or Set used this way makes the garbage collector
 * keep every call alive for a while after it has finished.
 *
 * Why: V8 replaces a Map's (or Set's) hash table with a new one whenever additions and deletions
 * fill it, and links the old table to its successor for the sake of live iterators. A busy
 * in-flight registry adds and deletes on every call, so it leaves a chain of dead tables behind.
 * Once one of them has been promoted to the old generation, the young-generation collector
 * treats it as a root: its successor survives, is promoted in turn, and so on, and with it every
 * call object the tables still point to. Measured on the TCP echo benchmark: 2.2 MB of the young
 * generation survived each scavenge with Maps and Sets here, 2 KB with this table, and scavenges
 * took 4 ms instead of 0.4 ms (docs/performance.md, "Maps, Sets and the young generation").
 *
 * A dictionary-mode object has no such chain. Values must not be `undefined`.
 */
export class CallTable<K extends number | string, V> {
  private slots: Record<string | number, V | undefined> = Object.create(null) as Record<string | number, V | undefined>;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: K): V | undefined {
    return this.slots[key];
  }

  has(key: K): boolean {
    return this.slots[key] !== undefined;
  }

  set(key: K, value: V): void {
    if (this.slots[key] === undefined) this.count++;
    this.slots[key] = value;
  }

  /** Removes the entry; false when there was none. */
  delete(key: K): boolean {
    if (this.slots[key] === undefined) return false;
    delete this.slots[key];
    this.count--;
    return true;
  }

  /** The values as an array of their own: the caller may change the table while walking it. */
  values(): V[] {
    const out: V[] = [];
    const slots = this.slots;
    for (const key in slots) out.push(slots[key]!);
    return out;
  }

  clear(): void {
    this.slots = Object.create(null) as Record<string | number, V | undefined>;
    this.count = 0;
  }
}
