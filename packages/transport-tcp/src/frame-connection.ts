import type { Socket } from 'node:net';
import type { RpcError } from '@svc/core';
import { checkedFrameBytes, encodeFrame, FrameDecoder, FrameKind, errors, headerSize, progressToWire, retryableToWire, TickFlush, writeFrameAt, writeFrameHeadAt, type Frame, type FrameDecoderOptions, type FrameHeader, type HeaderFields } from '@svc/core/transport';
import type { BufferBudget } from './buffer-budget.js';
import { closeAfterFlush } from './close-after-flush.js';
import type { ResolvedTcpOptions } from './tcp-options.js';

const EMPTY = new Uint8Array(0);
const NO_ARENA = Buffer.alloc(0);
/** Largest write arena: a few batches' worth, so that a busy connection needs a new one every few writes. */
const ARENA_BYTES = 64 * 1024;
/**
 * Bodies this large are not copied into the arena: the frame's head is, and the body follows it
 * as it is, in the same (corked) socket write. A 64 KiB stream message spent about 8 % of its
 * sender's CPU on that copy and on a fresh arena for it; below this a copy costs less than the
 * extra piece of a writev.
 */
const DIRECT_BODY_BYTES = 16 * 1024;

export interface FrameConnectionEvents {
  /** A frame other than PING/PONG, which the connection answers itself. */
  onFrame(frame: Frame): void;
  /** The connection is gone; `reason` says why (undefined: closed on purpose). */
  onClose(reason: RpcError | undefined): void;
}

/** What only the server side of a connection has. */
export interface ServerSideLimits {
  /** Shared by the listener's connections: bytes of incomplete frames held. */
  readonly budget: BufferBudget;
  /** Stop reading the peer while more than this many bytes wait to be sent to it. */
  readonly pauseAbove: number;
}

/**
 * One socket speaking @svc frames, used by both sides: parses what comes in, coalesces what goes
 * out (the frames of one tick leave in a single socket write, or in writes of `writeBatchBytes`
 * when a burst is larger, so that the peer can start on it early), and keeps the line
 * alive with heartbeats that never reach the dispatcher, filters, breakers or limiters.
 *
 * It also enforces the limits against a hostile or broken peer, all from the one timer it has
 * (no timer per frame or call): a started frame must complete within `frameTimeout`, bytes
 * waiting to be sent must move within `stallTimeout`, and on the server the incomplete frames of
 * all connections share one budget and a peer that does not read its answers stops being read.
 * After a protocol violation nothing more it received reaches `onFrame`, not even the rest of the
 * read that carried the violation.
 */
export class FrameConnection {
  readonly socket: Socket;
  private readonly events: FrameConnectionEvents;
  private readonly decoder: FrameDecoder;
  private readonly maxFrameSize: number;
  private readonly writeBatchBytes: number;
  /**
   * Frames are written one after another into this buffer and leave as slices of it: no buffer
   * per frame and no copy to join them. Bytes before `start` have been handed to the socket and
   * are never touched again; a new arena replaces a full one. Its size follows the traffic (twice
   * the bytes of the last tick, at most ARENA_BYTES), and a quiet tick lets it go, so that idle
   * connections hold no arena and small ones come from Node's buffer pool.
   */
  private arena = NO_ARENA;
  private start = 0;
  private used = 0;
  private tickBytes = 0;
  private lastTickBytes = 0;
  /**
   * Bytes of frames queued since the connection opened, and of those handed to the socket
   * (socket.write): a frame that starts at or after `handedBytes` never left this process.
   */
  private queued = 0;
  private handed = 0;
  /** The end of the tick: what it queued leaves in one write (or what is left of it, after batches). */
  private readonly tick = new TickFlush(() => this.endTick());
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly heartbeat: { interval: number; timeout: number } | undefined;
  private readonly frameTimeout: number;
  private readonly stallTimeout: number;
  /** Server only: the listener's budget for incomplete frames, and what this connection counts in it. */
  private readonly budget: BufferBudget | undefined;
  private counted = 0;
  /** Server only: reading stops above this many unsent bytes (Infinity on the client). */
  private readonly pauseAbove: number;
  private paused = false;
  /** When reading last resumed: a frame's deadline does not run while the server itself held it up. */
  private resumedAt = 0;
  /** Bytes the socket had handed to the kernel at the last progress, and when that was. */
  private sentMark = 0;
  private progressAt = Date.now();

  constructor(socket: Socket, options: ResolvedTcpOptions, events: FrameConnectionEvents, server?: ServerSideLimits) {
    this.socket = socket;
    this.events = events;
    this.maxFrameSize = options.maxFrameSize;
    this.writeBatchBytes = options.writeBatchBytes;
    this.heartbeat = options.heartbeat;
    this.frameTimeout = options.frameTimeout;
    this.stallTimeout = options.stallTimeout;
    this.budget = server?.budget;
    this.pauseAbove = server?.pauseAbove ?? Infinity;
    this.decoder = new FrameDecoder(decoderOptions(options));
    socket.setNoDelay(options.noDelay);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.terminate(errors.connectionLost(this.peer, error.message)));
    socket.on('close', () => this.terminate(errors.connectionLost(this.peer, 'the peer closed the connection')));
    this.startTimer();
  }

  get peer(): string {
    const s = this.socket;
    return s.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : 'peer';
  }

  /** Bytes queued here or in the socket, not yet handed to the kernel. */
  get unsentBytes(): number {
    return this.used - this.start + this.socket.writableLength;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Where the next frame queued starts, counted in bytes since the connection opened. */
  get queuedBytes(): number {
    return this.queued;
  }

  /**
   * Bytes handed to the socket so far. A frame that started at or after this when the connection
   * failed was never written (it was still in the arena) and never will be: its call is not_sent.
   * What was handed over may have reached the peer, whether or not the kernel sent it.
   */
  get handedBytes(): number {
    return this.handed;
  }

  /** Queues a frame; it leaves with the others of this tick (or batch). Throws if it exceeds the frame size. */
  send(header: FrameHeader, body: Uint8Array = EMPTY): void {
    this.sendMessage(header.kind, header.id, header, header.timeoutMs ?? 0, body);
  }

  /** The same for a request or response: its fields are written as they are, no header object. */
  sendMessage(kind: FrameKind, id: number, fields: HeaderFields, timeoutMs: number, body: Uint8Array): void {
    if (this.closed) return;
    const headLength = headerSize(id, fields, timeoutMs);
    const bytes = checkedFrameBytes(headLength, body.length, this.maxFrameSize);
    this.tickBytes += bytes;
    this.queued += bytes;
    if (body.length >= DIRECT_BODY_BYTES) return this.sendWithBody(kind, id, fields, timeoutMs, body, headLength, bytes - body.length);
    if (this.arena.length - this.used < bytes) this.newArena(bytes);
    this.used = writeFrameAt(this.arena, this.used, kind, id, fields, timeoutMs, body, headLength);
    this.tick.request();
    if (this.used - this.start >= this.writeBatchBytes) this.flush();
  }

  /**
   * A frame with a large body: its head goes into the arena and leaves at once, with what the
   * arena held before it and then the body itself, in one corked write (one writev). Core never
   * changes a body once encoded, so the socket may keep it until it is written.
   */
  private sendWithBody(kind: FrameKind, id: number, fields: HeaderFields, timeoutMs: number, body: Uint8Array, headLength: number, headBytes: number): void {
    if (this.arena.length - this.used < headBytes) this.newArena(headBytes);
    this.used = writeFrameHeadAt(this.arena, this.used, kind, id, fields, timeoutMs, body.length, headLength);
    this.tick.request(); // the end of the tick decides whether the arena is kept
    const socket = this.socket;
    socket.cork();
    this.flush();
    this.handed += body.length;
    const flowing = socket.write(body);
    socket.uncork();
    if (!flowing && socket.writableLength > this.pauseAbove) this.pauseReading();
  }

  private endTick(): void {
    this.flush();
    this.lastTickBytes = this.tickBytes;
    this.tickBytes = 0;
    // A quiet tick: let the arena go rather than hold it while the connection idles.
    if (this.lastTickBytes * 8 < this.arena.length) {
      this.arena = NO_ARENA;
      this.start = this.used = 0;
    }
  }

  private flush(): void {
    if (this.closed || this.used === this.start) return;
    const out = this.arena.subarray(this.start, this.used);
    this.handed += out.length;
    this.start = this.used;
    this.lastSent = Date.now();
    // Only a full socket buffer is looked at further: a comparison per write, none per frame.
    if (!this.socket.write(out) && this.socket.writableLength > this.pauseAbove) this.pauseReading();
  }

  /**
   * Backpressure on the server: a peer that sends requests and does not read the answers would
   * make them queue without bound, so its requests stop being read until the queue has left
   * ('drain'). A peer that never reads is closed by the stall check.
   */
  private pauseReading(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
    this.socket.once('drain', this.resumeReading);
  }

  private readonly resumeReading = (): void => {
    if (!this.paused) return;
    this.paused = false;
    if (this.closed) return;
    const now = Date.now();
    // Not hearing from the peer while not listening to it is no sign that it is gone.
    this.lastReceived = this.resumedAt = now;
    this.socket.resume();
  };

  /**
   * A fresh arena with room for `bytes` more: sized by the traffic, and for what is still unsent
   * in the old one, which moves along (so that a tick still leaves in one write, or in batches).
   */
  private newArena(bytes: number): void {
    const pending = this.used - this.start;
    const traffic = Math.min(ARENA_BYTES, 2 * Math.max(this.lastTickBytes, this.tickBytes + bytes));
    const next = Buffer.allocUnsafe(Math.max(pending > 0 ? 2 * (pending + bytes) : bytes, traffic));
    if (pending > 0) this.arena.copy(next, 0, this.start, this.used);
    this.arena = next;
    this.start = 0;
    this.used = pending;
  }

  private receive(chunk: Buffer): void {
    // Once closed, what still arrives is read and dropped (the decoder is closed too): nothing
    // after a violation reaches a handler, and the socket can close without a reset.
    if (this.closed) return;
    this.lastReceived = Date.now();
    try {
      this.decoder.push(chunk, this.onDecoded);
    } catch (error) {
      this.protocolViolation(error as RpcError);
      return;
    }
    const budget = this.budget;
    if (budget === undefined || this.closed) return;
    const held = this.decoder.pendingCapacity;
    if (held === this.counted) return;
    budget.used += held - this.counted;
    const grew = held > this.counted;
    this.counted = held;
    if (grew && budget.used > budget.limit) this.goAway(errors.bufferedBytesExceeded(budget.limit));
  }

  private readonly onDecoded = (frame: Frame): void => {
    const kind = frame.kind;
    if (kind === FrameKind.PING) this.send({ kind: FrameKind.PONG, id: 0 });
    else if (kind !== FrameKind.PONG) this.events.onFrame(frame);
  };

  /**
   * The peer broke the protocol: parsing stops at once (also when called from inside `onFrame`,
   * for the frames after this one in the same read), what is queued leaves, then a GOAWAY that
   * says why, and the socket is destroyed as soon as that has been handed to the kernel.
   */
  protocolViolation(error: RpcError): void {
    this.closeWith(error, false);
  }

  /**
   * A limit or the server's shutdown ends the connection: the same, except that the peer may read
   * the GOAWAY and end its side first, within a bound (close-after-flush.ts says why).
   */
  goAway(error: RpcError): void {
    this.closeWith(error, true);
  }

  private closeWith(error: RpcError, untilPeerEnds: boolean): void {
    if (this.closed) return;
    this.decoder.close();
    this.flush();
    this.terminate(error);
    this.socket.resume(); // keep reading (and dropping) even if paused, so that the close is clean
    closeAfterFlush(this.socket, goAwayFrame(error), untilPeerEnds);
  }

  /** Flushes what is queued and closes the write side; the peer sees a clean end. */
  end(): void {
    if (this.closed) return;
    this.flush();
    this.socket.end();
    this.terminate(undefined);
    setTimeout(() => this.socket.destroy(), 2_000).unref();
  }

  destroy(reason?: RpcError): void {
    this.socket.destroy();
    this.terminate(reason);
  }

  /** The connection's one timer: heartbeats, the frame deadline and the stall check, at half the shortest period. */
  private startTimer(): void {
    const hb = this.heartbeat;
    const shortest = Math.min(hb?.interval ?? Infinity, hb?.timeout ?? Infinity, this.frameTimeout, this.stallTimeout);
    if (shortest === Infinity) return;
    this.timer = setInterval(() => this.check(), Math.max(10, shortest / 2));
    this.timer.unref();
  }

  private check(): void {
    const now = Date.now();
    const hb = this.heartbeat;
    // While the server does not read the peer (backpressure), silence is expected: the stall check decides.
    if (hb && !this.paused && now - this.lastReceived >= hb.timeout) {
      return this.destroy(errors.connectionLost(this.peer, `no frame from the peer for ${hb.timeout} ms (heartbeat timeout)`));
    }
    const since = this.decoder.pendingSince;
    if (since !== 0 && !this.paused && now - Math.max(since, this.resumedAt) >= this.frameTimeout) {
      return this.goAway(errors.frameTimedOut(this.frameTimeout, this.decoder.pendingBytes));
    }
    const waiting = this.socket.writableLength;
    if (waiting === 0) {
      this.progressAt = now;
    } else {
      // Bytes handed to the kernel so far: they move as long as the peer reads anything.
      const sent = this.socket.bytesWritten - waiting;
      if (sent !== this.sentMark) {
        this.sentMark = sent;
        this.progressAt = now;
      } else if (now - this.progressAt >= this.stallTimeout) {
        return this.destroy(errors.connectionStalled(this.peer, this.stallTimeout, waiting + this.used - this.start));
      }
    }
    if (hb && now - this.lastSent >= hb.interval) this.send({ kind: FrameKind.PING, id: 0 });
  }

  private terminate(reason: RpcError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.budget) this.budget.used -= this.counted;
    this.counted = 0;
    this.decoder.close();
    this.arena = NO_ARENA;
    this.start = this.used = 0;
    this.events.onClose(reason);
  }
}

/**
 * A GOAWAY that ends a connection with `error`: its code and message, and (fields 13 and 14) how
 * far the calls the peer still waits for got and whether they may be retried. The error is chosen
 * by what happened, so its progress is exact: closedForShutdown, serverShuttingDown and
 * tooManyConnections are sent when nothing on the connection runs or will run (refused); a limit
 * or a violation ends a connection whose calls may have run (processed).
 */
export function goAwayFrame(error: RpcError): Buffer {
  return encodeFrame({ kind: FrameKind.GOAWAY, id: 0, status: error.codeNumber, message: error.message, progress: progressToWire(error.progress), retryable: retryableToWire(error) });
}

/** The decoder's limits: a frame is refused from its length, metadata over the caps refuses its call only. */
function decoderOptions(options: ResolvedTcpOptions): FrameDecoderOptions {
  return { maxFrameSize: options.maxFrameSize, maxMetadataEntries: options.maxMetadataEntries, maxMetadataBytes: options.maxMetadataBytes };
}
