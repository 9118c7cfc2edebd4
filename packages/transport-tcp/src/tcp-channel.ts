import { RpcError } from '@svc/core';
import { errors, FrameKind, PendingCalls, progressFromWire, remainingMs, retryableFromWire, type Channel, type Frame, type HeaderFields, type RequestMessage, type ResponseHandler, type StreamReceiver, type StreamSender } from '@svc/core/transport';
import { ClientStreamLink, NO_STREAM_SENDER } from './client-stream-link.js';
import { parseAddress, type SocketAddress } from './address.js';
import { Backoff } from './backoff.js';
import { FrameConnection } from './frame-connection.js';
import { dial } from './socket-factory.js';
import type { ResolvedTcpOptions } from './tcp-options.js';

type State = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

interface Pending {
  readonly id: number;
  readonly onResponse: ResponseHandler;
  /** The connection the request went out on; undefined while waiting for the dial. */
  connection: FrameConnection | undefined;
  /** Kept only while waiting for the dial. */
  request: RequestMessage | undefined;
  /** Where its frame starts in what the connection queued (FrameConnection.queuedBytes). */
  offset: number;
  /** Set for a stream: its frames both ways (client-stream-link.ts). Its onResponse ends the stream. */
  stream?: ClientStreamLink | undefined;
}

/**
 * The client side of one address: one multiplexed connection, dialed on the first call.
 * While dialing, calls wait (bounded by their deadlines); once a connection drops, the channel
 * reconnects in the background with backoff and jitter, and calls made meanwhile fail at once
 * with UNAVAILABLE, so that a caller (or a fail mode) can go elsewhere instead of hanging.
 * A GOAWAY from the server moves new calls to a fresh connection while the old one finishes.
 */
export class TcpChannel implements Channel {
  readonly address: string;
  private readonly target: SocketAddress;
  private readonly options: ResolvedTcpOptions;
  private readonly backoff: Backoff;
  private readonly pending = new PendingCalls<Pending>();
  private state: State = 'idle';
  private connection: FrameConnection | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastError = 'not connected yet';
  private nextId = 1;

  constructor(address: string, options: ResolvedTcpOptions) {
    this.address = address;
    this.target = parseAddress(address);
    this.options = options;
    this.backoff = new Backoff(options.reconnect);
  }

  call(request: RequestMessage, onResponse: ResponseHandler): number {
    const id = this.nextId;
    this.nextId = id === 0xffffffff ? 1 : id + 1;
    switch (this.state) {
      case 'ready': {
        const unsent = this.connection!.unsentBytes;
        if (unsent > this.options.maxSendBuffer) {
          queueMicrotask(() => onResponse(errors.sendBufferFull(this.address, unsent, this.options.maxSendBuffer), undefined));
          break;
        }
        const pending: Pending = { id, onResponse, connection: this.connection, request: undefined, offset: 0 };
        this.pending.add(pending);
        this.write(this.connection!, pending, request);
        break;
      }
      case 'idle':
      case 'connecting':
        this.pending.add({ id, onResponse, connection: undefined, request, offset: 0 });
        if (this.state === 'idle') this.connect();
        break;
      case 'backoff':
        queueMicrotask(() => onResponse(errors.notConnected(this.address, this.lastError), undefined));
        break;
      case 'closed':
        queueMicrotask(() => onResponse(errors.channelClosed(this.address), undefined));
        break;
    }
    return id;
  }

  /**
   * A stream: its REQUEST goes like a call's (waiting for the dial, failing fast while down), and
   * it stays among the pending calls until its END, so that a lost connection, a GOAWAY with an
   * error or close() end it as they end calls. MESSAGE, WINDOW and END are routed by id.
   */
  openStream(request: RequestMessage, receiver: StreamReceiver): StreamSender {
    const id = this.nextId;
    this.nextId = id === 0xffffffff ? 1 : id + 1;
    let early: RpcError | undefined;
    switch (this.state) {
      case 'ready': {
        const unsent = this.connection!.unsentBytes;
        if (unsent > this.options.maxSendBuffer) early = errors.sendBufferFull(this.address, unsent, this.options.maxSendBuffer);
        break;
      }
      case 'backoff':
        early = errors.notConnected(this.address, this.lastError);
        break;
      case 'closed':
        early = errors.channelClosed(this.address);
        break;
      default:
        break;
    }
    if (early !== undefined) {
      const failure = early;
      queueMicrotask(() => receiver.fail(failure));
      return NO_STREAM_SENDER;
    }
    const link = new ClientStreamLink(id, receiver, this);
    const pending: Pending = { id, onResponse: link.onResponse, connection: undefined, request: undefined, offset: 0, stream: link };
    this.pending.add(pending);
    if (this.state === 'ready') {
      pending.connection = this.connection;
      this.write(this.connection!, pending, request);
    } else {
      pending.request = request;
      if (this.state === 'idle') this.connect();
    }
    return link;
  }

  /** @internal A stream's frame after its REQUEST: on its connection, or held until the dial (bounded by the credit). */
  sendStreamFrame(id: number, kind: FrameKind, fields: HeaderFields, body: Uint8Array): boolean {
    const pending = this.pending.get(id);
    if (pending === undefined) return false;
    const connection = pending.connection;
    if (connection === undefined) return false;
    if (!connection.isClosed) connection.sendMessage(kind, id, fields, 0, body);
    return true;
  }

  /** @internal Whether the stream's REQUEST is still waiting for the dial (its frames wait with it). */
  isDialing(id: number): boolean {
    const pending = this.pending.get(id);
    return pending !== undefined && pending.connection === undefined;
  }

  cancel(id: number): void {
    const pending = this.pending.take(id);
    if (!pending) return;
    const connection = pending.connection;
    if (connection && !connection.isClosed) {
      connection.send({ kind: FrameKind.CANCEL, id });
      this.closeIfDrained(connection);
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.retryTimer);
    const error = errors.channelClosed(this.address); // not_sent: for calls still waiting for the dial
    // Calls on a connection were written, or are when it ends (end() flushes): they may run.
    const written = error.withProgress('processed');
    this.pending.failAll((pending) => (pending.connection === undefined ? error : written));
    this.connection?.end();
    this.connection = undefined;
  }

  private write(connection: FrameConnection, pending: Pending, request: RequestMessage): void {
    const id = pending.id;
    pending.offset = connection.queuedBytes;
    try {
      connection.sendMessage(FrameKind.REQUEST, id, request, remainingMs(request.deadline), request.body);
    } catch (error) {
      // Too large for a frame, or a value the header cannot carry: this call fails, the connection
      // is fine. Nothing of the frame was queued: not_sent.
      const failure = (RpcError.is(error) ? error : errors.unsendableMessage('request', error)).withProgress('not_sent');
      if (!this.pending.holds(pending)) return;
      this.pending.take(id);
      queueMicrotask(() => pending.onResponse(failure, undefined));
    }
  }

  private connect(): void {
    this.state = 'connecting';
    const { socket, ready } = dial(this.target, this.options);
    // The dial fails with this very error when it times out: recognised by identity, not by its text.
    let timedOut: RpcError | undefined;
    const timer = setTimeout(() => socket.destroy((timedOut = errors.dialTimeout(this.address, this.options.dialTimeout))), this.options.dialTimeout);
    ready.then(
      () => {
        clearTimeout(timer);
        if (this.state === 'closed') return void socket.destroy();
        const connection = new FrameConnection(socket, this.options, {
          onFrame: (frame) => this.receive(connection, frame),
          onClose: (reason) => this.lost(connection, reason),
        });
        this.connection = connection;
        this.state = 'ready';
        this.backoff.reset();
        for (const pending of this.pending.values()) {
          if (pending.connection !== undefined || pending.request === undefined) continue;
          const request = pending.request;
          pending.request = undefined;
          pending.connection = connection;
          this.write(connection, pending, request);
          pending.stream?.dialed();
        }
      },
      (error: Error) => {
        clearTimeout(timer);
        if (this.state === 'closed') return;
        this.lastError = error.message;
        const failure = error === timedOut ? timedOut : errors.notConnected(this.address, error.message);
        this.pending.failAll((pending) => (pending.connection === undefined ? failure : undefined));
        this.scheduleReconnect();
      },
    );
  }

  private scheduleReconnect(): void {
    this.state = 'backoff';
    this.retryTimer = setTimeout(() => {
      if (this.state === 'backoff') this.connect();
    }, this.backoff.next());
    this.retryTimer.unref();
  }

  private receive(connection: FrameConnection, frame: Frame): void {
    const kind = frame.kind;
    if (kind === FrameKind.RESPONSE) {
      const pending = this.pending.get(frame.id);
      if (!pending || pending.connection !== connection) return; // cancelled meanwhile
      this.pending.take(frame.id);
      if (!frame.codec) frame.codec = 'json';
      pending.onResponse(undefined, frame);
      this.closeIfDrained(connection);
    } else if (kind === FrameKind.MESSAGE || kind === FrameKind.WINDOW || kind === FrameKind.END) {
      const pending = this.pending.get(frame.id);
      const link = pending?.stream;
      if (link === undefined || pending!.connection !== connection) return; // ended or cancelled meanwhile
      if (kind === FrameKind.MESSAGE) link.receiver.message(frame.body, frame.compression, frame.blocked);
      else if (kind === FrameKind.WINDOW) link.receiver.window(frame.credit);
      else {
        this.pending.take(frame.id);
        link.receiver.end(frame);
        this.closeIfDrained(connection);
      }
    } else if (kind === FrameKind.GOAWAY) {
      if (frame.status !== 0) {
        // The server ends the connection now and says why (a limit, a violation, or its shutdown
        // with this connection idle): the calls still waiting on it fail with that error, and as
        // far as it says they got (refused when it dispatched nothing more; absent: processed).
        connection.destroy(RpcError.fromWire(frame.status, frame.message ?? '', frame.details, frame.metadata, undefined, progressFromWire(frame.progress), retryableFromWire(frame.retryable)));
        return;
      }
      // The server is shutting down: new calls dial afresh; this connection ends when its calls are answered.
      if (this.connection === connection) {
        this.connection = undefined;
        if (this.state === 'ready') this.state = 'idle';
      }
      this.closeIfDrained(connection);
    } else if (kind > FrameKind.WINDOW && frame.id !== 0) {
      // A kind this version does not know, for a call: that call fails with it, and the server
      // hears a CANCEL, rather than the frame being ignored.
      const pending = this.pending.get(frame.id);
      if (pending === undefined || pending.connection !== connection) return;
      this.pending.settle(frame.id, errors.unknownFrameKind(kind));
      connection.send({ kind: FrameKind.CANCEL, id: frame.id });
      this.closeIfDrained(connection);
    }
  }

  /** A connection that is no longer current closes once none of its calls is pending. */
  private closeIfDrained(connection: FrameConnection): void {
    if (connection === this.connection) return;
    for (const pending of this.pending.values()) if (pending.connection === connection) return;
    connection.end();
  }

  /**
   * The connection is gone: its calls fail with the reason. A call whose frame had been handed to
   * the socket gets the reason's progress (processed: it may have run; refused when the server's
   * GOAWAY said it dispatched nothing more). A call whose frame was still in the connection's
   * arena was never written and never will be: not_sent. (Bytes handed to the socket but not yet
   * to the kernel cannot be told apart from those the kernel has sent, so they count as written.)
   */
  private lost(connection: FrameConnection, reason: RpcError | undefined): void {
    const error = reason ?? errors.connectionLost(this.address, 'the connection closed');
    const handed = connection.handedBytes;
    // Leave the dead connection first: a callback below may call again at once (a fail mode's
    // retry), and that call must see the channel as it now is, not be written to a closed socket.
    if (this.connection === connection) {
      this.connection = undefined;
      if (this.state !== 'closed') {
        this.lastError = error.message;
        this.scheduleReconnect();
      }
    }
    let unwritten: RpcError | undefined;
    this.pending.failAll((pending) => (pending.connection !== connection ? undefined : pending.offset < handed ? error : (unwritten ??= error.withProgress('not_sent'))));
  }
}
