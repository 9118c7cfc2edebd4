import { TickFlush } from '@svc/core/transport';

/** Something that travels as one @svc frame inside a NATS message. */
export interface Framed {
  /** Bytes the whole frame takes, known when it is added; the frame is written when its message is. */
  readonly frameBytes: number;
}

export interface FrameBatchOptions<T extends Framed> {
  /** Publishes one NATS message: `payload` holds the frames of `items`, in order. */
  send(subject: string, items: T[], payload: Uint8Array): void;
  /** Writes an item's frame at `pos` of `out` (exactly `frameBytes`); returns the position after it. */
  write(item: T, out: Buffer, pos: number): number;
  /** Most frames to a message. */
  maxFrames: number;
  /** Most bytes to a message: the NATS server's max_payload. */
  maxBytes(): number;
  /** Asked just before sending: items it refuses (cancelled meanwhile) are left out. */
  alive?(item: T): boolean;
}

/**
 * Gathers the frames published during one tick and sends them per subject, several to a NATS
 * message (at most `maxFrames` frames, and `maxBytes()` bytes). A call then costs the NATS
 * server, nats.js and the sockets a fraction of a message instead of a whole one, on the way out
 * and on the way back. A full message leaves at once rather than at the end of the tick, so that
 * the other side can start on it while this one is still producing. Each frame is written
 * straight into its message's buffer when the message leaves, so a call costs no buffer of its
 * own and its body is copied once. A single frame never exceeds `maxBytes()`: the caller checks
 * that first.
 */
export class FrameBatch<T extends Framed> {
  // A dictionary object, not a Map, for the reason given in @svc/core's CallTable.
  private groups: Record<string, T[]> = Object.create(null) as Record<string, T[]>;
  private subjects: string[] = [];
  private readonly tick = new TickFlush(() => this.run());
  private readonly options: FrameBatchOptions<T>;

  constructor(options: FrameBatchOptions<T>) {
    this.options = options;
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
    if (group.push(item) >= this.options.maxFrames) {
      this.groups[subject] = [];
      this.sendAll(subject, group);
    }
    this.tick.request();
  }

  private run(): void {
    const { groups, subjects } = this;
    this.groups = Object.create(null) as Record<string, T[]>;
    this.subjects = [];
    for (const subject of subjects) this.sendAll(subject, groups[subject]!);
  }

  /** Sends a group in as few messages as the limits allow. */
  private sendAll(subject: string, group: T[]): void {
    const o = this.options;
    const items = o.alive === undefined ? group : group.filter((item) => o.alive!(item));
    const maxFrames = o.maxFrames;
    const maxBytes = o.maxBytes();
    let start = 0;
    while (start < items.length) {
      let end = start;
      let bytes = 0;
      while (end < items.length && end - start < maxFrames && (end === start || bytes + items[end]!.frameBytes <= maxBytes)) {
        bytes += items[end]!.frameBytes;
        end++;
      }
      const payload = Buffer.allocUnsafe(bytes);
      let pos = 0;
      for (let i = start; i < end; i++) pos = o.write(items[i]!, payload, pos);
      o.send(subject, start === 0 && end === items.length ? items : items.slice(start, end), payload);
      start = end;
    }
  }
}
