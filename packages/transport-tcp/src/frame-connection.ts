import type { Socket } from 'node:net';
import type { RpcError } from '@svc/core';
import { checkedFrameBytes, encodeFrame, FrameDecoder, FrameKind, errors, headerSize, writeFrameAt, type Frame, type FrameHeader, type HeaderFields } from '@svc/core/transport';
import type { ResolvedTcpOptions } from './tcp-options.js';

const EMPTY = new Uint8Array(0);
const NO_ARENA = Buffer.alloc(0);
/** Largest write arena: a few batches' worth, so that a busy connection needs a new one every few writes. */
const ARENA_BYTES = 64 * 1024;

export interface FrameConnectionEvents {
  /** A frame other than PING/PONG, which the connection answers itself. */
  onFrame(frame: Frame): void;
  /** The connection is gone; `reason` says why (undefined: closed on purpose). */
  onClose(reason: RpcError | undefined): void;
}

/**
 * One socket speaking @svc frames, used by both sides: parses what comes in, coalesces what goes
 * out (the frames of one tick leave in a single socket write, or in writes of `writeBatchBytes`
 * when a burst is larger, so that the peer can start on it early), and keeps the line
 * alive with heartbeats that never reach the dispatcher, filters, breakers or limiters.
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
  private flushScheduled = false;
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(socket: Socket, options: ResolvedTcpOptions, events: FrameConnectionEvents) {
    this.socket = socket;
    this.events = events;
    this.maxFrameSize = options.maxFrameSize;
    this.writeBatchBytes = options.writeBatchBytes;
    this.decoder = new FrameDecoder({ maxFrameSize: options.maxFrameSize });
    socket.setNoDelay(options.noDelay);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.terminate(errors.connectionLost(this.peer, error.message)));
    socket.on('close', () => this.terminate(errors.connectionLost(this.peer, 'the peer closed the connection')));
    if (options.heartbeat) this.startHeartbeat(options.heartbeat.interval, options.heartbeat.timeout);
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

  /** Queues a frame; it leaves with the others of this tick (or batch). Throws if it exceeds the frame size. */
  send(header: FrameHeader, body: Uint8Array = EMPTY): void {
    this.sendMessage(header.kind, header.id, header, header.timeoutMs ?? 0, body);
  }

  /** The same for a request or response: its fields are written as they are, no header object. */
  sendMessage(kind: FrameKind, id: number, fields: HeaderFields, timeoutMs: number, body: Uint8Array): void {
    if (this.closed) return;
    const headLength = headerSize(id, fields, timeoutMs);
    const bytes = checkedFrameBytes(headLength, body.length, this.maxFrameSize);
    if (this.arena.length - this.used < bytes) this.newArena(bytes);
    this.used = writeFrameAt(this.arena, this.used, kind, id, fields, timeoutMs, body, headLength);
    this.tickBytes += bytes;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.endTick());
    }
    if (this.used - this.start >= this.writeBatchBytes) this.flush();
  }

  private endTick(): void {
    this.flushScheduled = false;
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
    this.start = this.used;
    this.lastSent = Date.now();
    this.socket.write(out);
  }

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
    this.lastReceived = Date.now();
    try {
      this.decoder.push(chunk, (frame) => {
        const kind = frame.kind;
        if (kind === FrameKind.PING) this.send({ kind: FrameKind.PONG, id: 0 });
        else if (kind !== FrameKind.PONG) this.events.onFrame(frame);
      });
    } catch (error) {
      this.protocolFailure(error as RpcError);
    }
  }

  /** A protocol violation: tell the peer why (best effort), then drop the connection. */
  protocolFailure(error: RpcError): void {
    if (this.closed) return;
    this.flush();
    try {
      this.socket.write(encodeFrame({ kind: FrameKind.GOAWAY, id: 0, status: error.codeNumber, message: error.message }));
    } catch {
      // the socket may already be unwritable
    }
    this.socket.end();
    this.terminate(error);
    setTimeout(() => this.socket.destroy(), 1_000).unref();
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

  private startHeartbeat(interval: number, timeout: number): void {
    const tick = Math.max(10, Math.min(interval, timeout) / 2);
    this.heartbeatTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastReceived >= timeout) {
        this.destroy(errors.connectionLost(this.peer, `no frame from the peer for ${timeout} ms (heartbeat timeout)`));
      } else if (now - this.lastSent >= interval) {
        this.send({ kind: FrameKind.PING, id: 0 });
      }
    }, tick);
    this.heartbeatTimer.unref();
  }

  private terminate(reason: RpcError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.arena = NO_ARENA;
    this.start = this.used = 0;
    this.events.onClose(reason);
  }
}
