import type { RpcError } from '../errors/rpc-error.js';
import { streamCreditExceeded } from '../errors/framework-errors.js';
import { decompress } from '../codec/compression.js';
import { Compression } from '../wire/header.js';
import { INITIAL_STREAM_WINDOW, messageCost } from './outbound-credit.js';
import type { WindowBudget } from './window-budget.js';

/** What the queue of one stream asks of the side it belongs to. */
export interface InboundOwner {
  /** Sends a WINDOW of `credit` bytes to the peer. */
  grant(credit: number): void;
  /** The consumer left early (`return()`, a `break` out of `for await`). */
  consumerLeft(): void;
  /** A message did not decode: the stream fails with this. */
  undecodable(error: RpcError): void;
  /** The most a compressed message may inflate to (its side's maxDecompressedSize). */
  readonly maxDecompressedSize: number;
}

/** A message that came compressed: inflated when it is taken, not when it arrives. */
class CompressedBody {
  constructor(
    readonly compression: Compression,
    readonly bytes: Uint8Array,
  ) {}
}

/**
 * The messages a stream received and its consumer has not taken yet, as an AsyncIterator of
 * decoded values (decoded as they are taken, so a slow consumer holds bytes, not objects).
 *
 * Flow control, receiving side: the peer may send `window` bytes beyond what was granted back,
 * and a message larger than the window only when nothing else is held (outbound-credit.ts has the
 * sender's half). What a peer sends beyond that fails the stream: it is never buffered. Credit goes
 * back as the consumer takes messages: once half the window was taken, or when the consumer waits
 * on an empty queue (so a sender that waits for a large message is never left waiting).
 * A compressed message counts its compressed bytes, and is inflated (on zlib's thread pool, at
 * most to maxDecompressedSize) as it is taken: what is queued stays within the window.
 *
 * The window grows (doubles, up to maxWindow, drawn from the budget) when the window
 * is what holds the stream back: the consumer waits on an empty queue although, since it last did,
 * the peer ran out of credit: a MESSAGE said its sender had waited for credit (`blocked`: with
 * credit in flight the receiver alone cannot see that), or the window had less room left than
 * one more message of that size. A slow consumer never empties its queue and a slow producer
 * never runs out of credit, so neither grows a window; a window that grew stays grown until the
 * stream ends (release), as HTTP/2 and QUIC's auto-tuning do, since a consumer that kept up once
 * is likely to again.
 */
export class InboundMessages implements AsyncIterableIterator<unknown> {
  private window: number;
  private readonly decode: (bytes: Uint8Array) => unknown;
  private readonly owner: InboundOwner;
  private queue: (Uint8Array | CompressedBody)[] = [];
  private head = 0;
  /** Bytes received and not granted back: queued, or taken since the last WINDOW. */
  private outstanding = 0;
  /** Bytes taken by the consumer since the last WINDOW. */
  private taken = 0;
  private finished = false;
  private failure: RpcError | undefined = undefined;
  private waiter: { resolve(result: IteratorResult<unknown>): void; reject(error: unknown): void } | undefined = undefined;
  /** Set when the consumer left: messages still arriving are dropped and their credit given back. */
  private discarding = false;
  /** Once a compressed message came: the takes in flight, so that values reach the consumer in order. */
  private inflating: Promise<void> | undefined = undefined;
  /** Where the window's growth comes from; undefined: the window stays as it started. */
  private readonly budget: WindowBudget | undefined;
  /** The most the window grows to (the budget's maxWindow unless this stream was given its own). */
  private readonly maxWindow: number;
  /** Bytes the window grew by, drawn from the budget (given back by release). */
  private grown = 0;
  /** Since the consumer last waited: the peer ran out of credit (a `blocked` MESSAGE, or one that left less room than its own size). */
  private peerStalled = false;

  constructor(window: number, decode: (bytes: Uint8Array) => unknown, owner: InboundOwner, budget?: WindowBudget, maxWindow?: number) {
    this.window = window;
    this.decode = decode;
    this.owner = owner;
    this.budget = budget;
    this.maxWindow = maxWindow ?? budget?.maxWindow ?? window;
  }

  /** This stream's receive window now (it starts as given and may grow). */
  get currentWindow(): number {
    return this.window;
  }

  /** Grants what the window has beyond the protocol's initial one, when the stream opens (again, on a retry: a new peer, nothing received yet). */
  open(): void {
    if (this.window > INITIAL_STREAM_WINDOW) this.owner.grant(this.window - INITIAL_STREAM_WINDOW);
  }

  /** Bytes received and not yet taken by the consumer (what this side buffers for the stream). */
  get bufferedBytes(): number {
    return this.outstanding - this.taken;
  }

  /**
   * A MESSAGE arrived (compressed as `compression` says; `blocked`: its sender waited for credit
   * before it). Returns the error that ends the stream when the peer broke the window.
   */
  push(body: Uint8Array, compression: Compression = Compression.NONE, blocked = false): RpcError | undefined {
    if (this.finished && !this.discarding) return undefined;
    const size = messageCost(body.length);
    // Past the window is a broken peer, unless the peer may have been right to think everything it
    // sent was granted back (outbound-credit.ts: a message larger than the window goes then): what
    // this side granted beyond the initial window (the rest of the window at open, growth) reaches
    // the sender as credit it cannot tell from bytes given back, so a sender that keeps the rules
    // holds at most that much unreturned when it sends one large message.
    if (this.outstanding + size > this.window && this.outstanding > this.window - INITIAL_STREAM_WINDOW) return streamCreditExceeded(this.outstanding + size, this.window);
    if (this.discarding) {
      this.owner.grant(size);
      return undefined;
    }
    this.outstanding += size;
    if (blocked || this.window - this.outstanding < size) this.peerStalled = true;
    const message = compression === Compression.NONE ? body : new CompressedBody(compression, body);
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      this.taken += size;
      this.take(message, waiter);
      return undefined;
    }
    this.queue.push(message);
    return undefined;
  }

  /** No more messages: the stream ended (with `error`, or cleanly). Messages queued are still taken first. */
  finish(error?: RpcError): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = error;
    const waiter = this.waiter;
    if (waiter === undefined) return;
    this.waiter = undefined;
    if (error === undefined) waiter.resolve({ done: true, value: undefined });
    else waiter.reject(error);
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.head < this.queue.length) {
      const body = this.queue[this.head]!;
      this.queue[this.head++] = EMPTY;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
      this.taken += messageCost(body instanceof CompressedBody ? body.bytes.length : body.length);
      return new Promise((resolve, reject) => this.take(body, { resolve, reject }));
    }
    if (this.finished) return this.failure === undefined ? Promise.resolve({ done: true, value: undefined }) : Promise.reject(this.failure);
    // The consumer waits on an empty queue: give back everything it took, and grow the window if
    // it is what held the peer back.
    if (!this.discarding) {
      const extra = this.peerStalled ? this.grow() : 0;
      if (this.taken > 0 || extra > 0) this.giveBack(extra);
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<unknown>> {
    if (!this.discarding) {
      this.discarding = true;
      const held = this.outstanding;
      this.queue = [];
      this.head = 0;
      this.outstanding = this.taken = 0;
      if (!this.finished) {
        if (held > 0) this.owner.grant(held);
        this.owner.consumerLeft();
      }
      this.finish();
    }
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The stream is over: what the window grew by goes back to the budget (once; later calls do nothing). */
  release(): void {
    if (this.grown === 0) return;
    this.budget!.give(this.grown);
    this.window -= this.grown;
    this.grown = 0;
  }

  private take(body: Uint8Array | CompressedBody, into: Taker): void {
    if (this.taken * 2 >= this.window) this.giveBack();
    if (body instanceof CompressedBody || this.inflating !== undefined) return this.takeInOrder(body, into);
    this.decodeInto(body, into);
  }

  /** Inflates (when compressed) and decodes after the takes before it, so that values keep their order. */
  private takeInOrder(body: Uint8Array | CompressedBody, into: Taker): void {
    const maxBytes = this.owner.maxDecompressedSize;
    this.inflating = (this.inflating ?? Promise.resolve()).then(async () => {
      let bytes: Uint8Array;
      try {
        bytes = body instanceof CompressedBody ? await decompress(body.compression, body.bytes, maxBytes) : body;
      } catch (error) {
        const failure = error as RpcError;
        this.owner.undecodable(failure);
        into.reject(failure);
        return;
      }
      this.decodeInto(bytes, into);
    });
  }

  private decodeInto(body: Uint8Array, into: Taker): void {
    let value: unknown;
    try {
      value = this.decode(body);
    } catch (error) {
      const failure = error as RpcError;
      this.owner.undecodable(failure);
      into.reject(failure);
      return;
    }
    into.resolve({ done: false, value });
  }

  /** Grants back what the consumer took, and `extra` bytes the window just grew by. */
  private giveBack(extra = 0): void {
    const bytes = this.taken;
    this.taken = 0;
    this.outstanding -= bytes;
    if (!this.finished) this.owner.grant(bytes + extra);
  }

  /** Doubles the window, within maxWindow and what the budget has left; returns the growth. */
  private grow(): number {
    this.peerStalled = false;
    const budget = this.budget;
    if (budget === undefined || this.finished) return 0;
    const room = this.maxWindow - this.window;
    if (room <= 0) return 0;
    const extra = budget.take(room < this.window ? room : this.window);
    this.window += extra;
    this.grown += extra;
    return extra;
  }
}

const EMPTY = new Uint8Array(0);

type Taker = { resolve(result: IteratorResult<unknown>): void; reject(error: unknown): void };
