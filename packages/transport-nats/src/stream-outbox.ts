import type { PublishOptions } from 'nats';
import { checkedFrameBytes, headerSize, TickFlush, writeFrameAt, type FrameKind, type HeaderFields } from '@svc/core/transport';
import { SEQ_BYTES } from './stream-message.js';

/** How a stream's messages leave: nats.js, and the NATS server's max_payload. */
export interface OutboxWire {
  /** Hands one message to nats.js; throws what nats.js throws (a closed connection). */
  publish(subject: string, payload: Uint8Array, options: PublishOptions): void;
  maxPayload(): number;
}

interface OutgoingFrame {
  readonly kind: FrameKind;
  readonly id: number;
  readonly fields: HeaderFields;
  readonly body: Uint8Array;
  readonly timeoutMs: number;
  readonly headLength: number;
  readonly bytes: number;
}

const EMPTY = new Uint8Array(0);

/**
 * The sending half of one direction of a stream (stream-message.ts has the format). Frames queued
 * during a tick leave together at its end, cut into messages of at most max_payload, each with the
 * next sequence number; a burst that fills a message sends it at once. Credit is core's, so what
 * waits here is bounded by the peer's window (and one message larger than it). Until it knows
 * where to send (`aim`), it keeps what is queued; `aim(subject, true)` lets exactly one message
 * go there (the client's first, to the queue group) and keeps the rest until the next `aim`.
 */
export class StreamOutbox {
  /** Set by every message sent; the heartbeat sweep clears it (and sends a heartbeat when it was not set). */
  sent = false;
  private frames: OutgoingFrame[] = [];
  private bytes = 0;
  /** Messages cut while there was nowhere to send them (after the one `aim(…, true)` allowed). */
  private held: Buffer[] = [];
  private seq = 0;
  private published = false;
  private target: string | undefined = undefined;
  private onlyOne = false;
  private heartbeatDue = false;
  private finished = false;
  private readonly options: PublishOptions;
  private readonly wire: OutboxWire;
  private readonly maxFrameSize: number;
  private readonly failed: (error: unknown) => void;
  private readonly tick = new TickFlush(() => this.flush());

  /** `reply` is this side's own subject of the stream; `failed` hears a publish that threw. */
  constructor(wire: OutboxWire, reply: string, maxFrameSize: number, failed: (error: unknown) => void) {
    this.wire = wire;
    this.options = { reply };
    this.maxFrameSize = maxFrameSize;
    this.failed = failed;
  }

  /** Bytes of frames queued and not yet cut into messages. */
  get queuedBytes(): number {
    return this.bytes;
  }

  /** True once its first message has been handed to nats.js. */
  get started(): boolean {
    return this.published;
  }

  /** Queues a frame. Throws an RpcError (frameTooLarge, invalidMetadata) when it cannot be written; nothing is queued then. */
  write(kind: FrameKind, id: number, fields: HeaderFields, body: Uint8Array = EMPTY, timeoutMs = 0): void {
    if (this.finished) return;
    const headLength = headerSize(id, fields, timeoutMs);
    const bytes = checkedFrameBytes(headLength, body.length, this.maxFrameSize);
    this.frames.push({ kind, id, fields, body, timeoutMs, headLength, bytes });
    this.bytes += bytes;
    if (this.target !== undefined && this.bytes + SEQ_BYTES >= this.wire.maxPayload()) this.flush();
    else this.tick.request();
  }

  /** A heartbeat at the end of the tick, unless frames leave then anyway. */
  heartbeat(): void {
    if (this.finished) return;
    this.heartbeatDue = true;
    this.tick.request();
  }

  /** One heartbeat period passed: a heartbeat if nothing was sent in it. */
  sweep(): void {
    if (!this.sent) this.heartbeat();
    this.sent = false;
  }

  /** Where messages go from now on: what was held leaves first, in order. */
  aim(subject: string, onlyOne = false): void {
    this.target = subject;
    this.onlyOne = onlyOne;
    const held = this.held;
    if (held.length > 0) {
      this.held = [];
      for (const message of held) this.send(message);
    }
    this.tick.request();
  }

  /** Sends what is queued now (when it knows where), and takes nothing more. */
  finish(): void {
    this.flush();
    this.finished = true;
  }

  /** Drops what waits to be sent; what is written after still goes, with the next sequence number. */
  clear(): void {
    this.frames = [];
    this.held = [];
    this.bytes = 0;
    this.heartbeatDue = false;
  }

  /** Drops whatever waits and takes nothing more. */
  discard(): void {
    this.finished = true;
    this.frames = [];
    this.held = [];
    this.bytes = 0;
  }

  /** Cuts the queued frames into messages of at most max_payload and sends them. */
  flush(): void {
    if (this.finished || this.target === undefined) return;
    if (this.bytes === 0) {
      if (this.heartbeatDue) {
        this.heartbeatDue = false;
        this.send(Buffer.allocUnsafe(SEQ_BYTES));
      }
      return;
    }
    this.heartbeatDue = false;
    const frames = this.frames;
    let left = this.bytes;
    this.frames = [];
    this.bytes = 0;
    const room = this.wire.maxPayload() - SEQ_BYTES;
    let message = Buffer.allocUnsafe(SEQ_BYTES + Math.min(room, left));
    let pos = SEQ_BYTES;
    for (const f of frames) {
      if (message.length - pos >= f.bytes) {
        pos = writeFrameAt(message, pos, f.kind, f.id, f.fields, f.timeoutMs, f.body, f.headLength);
        left -= f.bytes;
      } else {
        // Larger than what is left of this message: written once on its own, then copied over as many as it takes.
        const whole = Buffer.allocUnsafe(f.bytes);
        writeFrameAt(whole, 0, f.kind, f.id, f.fields, f.timeoutMs, f.body, f.headLength);
        for (let at = 0; at < whole.length; ) {
          if (pos === message.length) {
            this.send(message);
            message = Buffer.allocUnsafe(SEQ_BYTES + Math.min(room, left));
            pos = SEQ_BYTES;
          }
          const n = Math.min(message.length - pos, whole.length - at);
          whole.copy(message, pos, at, at + n);
          pos += n;
          at += n;
          left -= n;
        }
      }
      if (pos === message.length && left > 0) {
        this.send(message);
        message = Buffer.allocUnsafe(SEQ_BYTES + Math.min(room, left));
        pos = SEQ_BYTES;
      }
    }
    this.send(message);
  }

  private send(message: Buffer): void {
    if (this.finished) return;
    const target = this.target;
    if (target === undefined) {
      this.held.push(message);
      return;
    }
    message.writeUInt32BE(this.seq, 0);
    this.seq = (this.seq + 1) >>> 0;
    if (this.onlyOne) {
      this.onlyOne = false;
      this.target = undefined;
    }
    this.sent = this.published = true;
    try {
      this.wire.publish(target, message, this.options);
    } catch (error) {
      this.discard();
      this.failed(error);
    }
  }
}
