/** Something to send as one @svc frame inside a NATS message. */
export interface Framed {
  frame: Uint8Array;
}

/**
 * Gathers the frames published during one tick and sends them per subject, several to a NATS
 * message (at most `maxFrames` frames, and `maxBytes()` bytes: the server's max_payload). A call
 * then costs the NATS server, nats.js and the sockets a fraction of a message instead of a whole
 * one, on the way out and on the way back. A full message leaves at once rather than at the end
 * of the tick, so that the other side can start on it while this one is still producing.
 * A single frame never exceeds `maxBytes()`: the caller checks that first.
 */
export class FrameBatch<T extends Framed> {
  // A dictionary object, not a Map, for the reason given in @svc/core's CallTable.
  private groups: Record<string, T[]> = Object.create(null) as Record<string, T[]>;
  private subjects: string[] = [];
  private scheduled = false;
  private readonly send: (subject: string, items: T[], payload: Uint8Array) => void;
  private readonly maxFrames: number;
  private readonly maxBytes: () => number;
  private readonly alive: (item: T) => boolean;

  /** `alive` is asked just before sending: items it refuses (cancelled meanwhile) are left out. */
  constructor(send: (subject: string, items: T[], payload: Uint8Array) => void, maxFrames: number, maxBytes: () => number, alive: (item: T) => boolean = () => true) {
    this.send = send;
    this.maxFrames = maxFrames;
    this.maxBytes = maxBytes;
    this.alive = alive;
  }

  /** True while frames wait to be sent. */
  get holding(): boolean {
    return this.subjects.length > 0;
  }

  add(subject: string, item: T): void {
    let group = this.groups[subject];
    if (group === undefined) {
      this.groups[subject] = group = [];
      this.subjects.push(subject);
    }
    if (group.push(item) >= this.maxFrames) {
      this.groups[subject] = [];
      this.sendAll(subject, group);
    }
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    const { groups, subjects } = this;
    this.groups = Object.create(null) as Record<string, T[]>;
    this.subjects = [];
    for (const subject of subjects) this.sendAll(subject, groups[subject]!);
  }

  /** Sends a group in as few messages as the limits allow. */
  private sendAll(subject: string, group: T[]): void {
    const items = group.filter(this.alive);
    const maxBytes = this.maxBytes();
    let start = 0;
    while (start < items.length) {
      let end = start;
      let bytes = 0;
      while (end < items.length && end - start < this.maxFrames && (end === start || bytes + items[end]!.frame.length <= maxBytes)) {
        bytes += items[end]!.frame.length;
        end++;
      }
      const part = start === 0 && end === items.length ? items : items.slice(start, end);
      this.send(subject, part, concat(part, bytes));
      start = end;
    }
  }
}

function concat(items: readonly Framed[], bytes: number): Uint8Array {
  if (items.length === 1) return items[0]!.frame;
  const out = Buffer.allocUnsafe(bytes);
  let offset = 0;
  for (const item of items) {
    out.set(item.frame, offset);
    offset += item.frame.length;
  }
  return out;
}
