import { FrameDecoder, type Frame, type MetadataLimits } from '@svc/core/transport';
import type { RpcError } from '@svc/core';
import { SEQ_BYTES } from './stream-message.js';
import { streamBuffersFull, streamFrameTooLarge, streamMessagesLost, undecodableStream } from './nats-errors.js';

/** Bytes of incomplete stream frames a listener holds, all its streams together (maxBufferedBytes). */
export class StreamBudget {
  used = 0;
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }
}

/**
 * The receiving half of one direction of a stream (stream-message.ts has the format): checks each
 * message's sequence number, joins the frames its bytes carry (a frame may span messages) and
 * hands them on in order. What a peer can make it hold is bounded: a frame is ended once its
 * bytes pass `maxFrameSize`, before more of it is kept (and, on a listener, once the incomplete
 * frames of all streams pass the budget); complete messages are counted against the window by
 * core. `receive` returns the error that ends the stream; after it, or after `stop()`, nothing
 * more is handed on.
 */
export class StreamInbox {
  /** Set by every message received; the heartbeat sweep reads and clears it. */
  heard = false;
  private silentSweeps = 0;
  private expected = 0;
  private decoder: FrameDecoder | undefined = undefined;
  private stopped = false;
  /** Why a frame handed on ended the stream (a whole frame over maxFrameSize). */
  private failure: RpcError | undefined = undefined;
  /** What this stream counts in the budget: its decoder's partial frame. */
  private counted = 0;
  private readonly from: string;
  private readonly maxFrameSize: number;
  private readonly metadata: MetadataLimits;
  private readonly budget: StreamBudget | undefined;
  private readonly onFrame: (frame: Frame) => void;
  private readonly checked = (frame: Frame): void => {
    if (this.stopped) return;
    if (frame.body.length > this.maxFrameSize) {
      this.failure = streamFrameTooLarge(this.from, frame.body.length, this.maxFrameSize);
      return this.stop();
    }
    this.onFrame(frame);
  };

  /** `from` names the peer in errors ('the server', 'the client'). */
  constructor(from: string, maxFrameSize: number, metadata: MetadataLimits, budget: StreamBudget | undefined, onFrame: (frame: Frame) => void) {
    this.from = from;
    this.maxFrameSize = maxFrameSize;
    this.metadata = metadata;
    this.budget = budget;
    this.onFrame = onFrame;
  }

  /** One message of the stream; frames are handed to `onFrame` before it returns. */
  receive(data: Uint8Array): RpcError | undefined {
    if (this.stopped) return undefined;
    this.heard = true;
    if (data.length < SEQ_BYTES) return this.fail(undecodableStream(this.from, `a message of ${data.length} bytes, shorter than its sequence number`));
    const seq = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
    if (seq !== this.expected) return this.fail(streamMessagesLost(this.from, this.expected, seq));
    this.expected = (seq + 1) >>> 0;
    if (data.length === SEQ_BYTES) return undefined; // a heartbeat
    // No frame limit of its own: what a partial frame holds is checked below, in the stream's own terms.
    const decoder = (this.decoder ??= new FrameDecoder({ maxFrameSize: Number.MAX_SAFE_INTEGER, ...this.metadata }));
    try {
      decoder.push(Buffer.from(data.buffer, data.byteOffset + SEQ_BYTES, data.length - SEQ_BYTES), this.checked);
    } catch (error) {
      return this.fail(undecodableStream(this.from, ((error as Error)?.message ?? String(error)).replace(/^protocol error: /, '')));
    }
    if (this.failure !== undefined) return this.fail(this.failure);
    if (this.stopped) return undefined;
    const pending = decoder.pendingBytes;
    // A partial frame holds at most 7 bytes more than its length field counts.
    if (pending > this.maxFrameSize + 7) return this.fail(streamFrameTooLarge(this.from, pending, this.maxFrameSize));
    return this.count(decoder.pendingCapacity);
  }

  /** One heartbeat period passed: how many in a row heard nothing. */
  sweep(): number {
    if (this.heard) {
      this.heard = false;
      this.silentSweeps = 0;
    } else this.silentSweeps++;
    return this.silentSweeps;
  }

  /** Nothing more is handed on (also from inside `onFrame`: the frames after it in the message are dropped). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.decoder?.close();
    this.decoder = undefined;
    this.count(0);
  }

  private fail(error: RpcError): RpcError {
    this.stop();
    return error;
  }

  private count(capacity: number): RpcError | undefined {
    const budget = this.budget;
    if (budget === undefined || capacity === this.counted) return undefined;
    budget.used += capacity - this.counted;
    const grew = capacity > this.counted;
    this.counted = capacity;
    if (grew && budget.used > budget.limit) return this.fail(streamBuffersFull(budget.limit));
    return undefined;
  }
}
