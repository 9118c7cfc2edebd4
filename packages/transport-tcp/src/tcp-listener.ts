import type { Server as SocketServer, Socket } from 'node:net';
import type { RpcError } from '@svc/core';
import { CallTable, encodeFrame, errors, FrameKind, type Cancellable, type Dispatcher, type Frame, type Listener, type ReplyTarget, type ResponseMessage } from '@svc/core/transport';
import { formatAddress, parseAddress, type SocketAddress } from './address.js';
import { BufferBudget } from './buffer-budget.js';
import { closeAfterFlush } from './close-after-flush.js';
import { FrameConnection } from './frame-connection.js';
import { createSocketServer } from './socket-factory.js';
import type { ResolvedTcpOptions } from './tcp-options.js';

/** Placeholder while dispatch runs, so that a reply made inside dispatch() is not lost. */
const DISPATCHING: Cancellable = { cancel() {} };

/** The server side of one accepted connection: requests in, responses out, cancels honoured. */
class ServerConnection implements ReplyTarget {
  readonly frames: FrameConnection;
  private readonly dispatcher: Dispatcher;
  private readonly calls = new CallTable<number, Cancellable>();
  private readonly onGone: (c: ServerConnection) => void;
  private readonly maxConcurrentCalls: number;
  /** Set by goaway(): no new calls are expected, and the connection closes once none is in flight. */
  private draining = false;

  constructor(socket: Socket, options: ResolvedTcpOptions, dispatcher: Dispatcher, budget: BufferBudget, onGone: (c: ServerConnection) => void) {
    this.dispatcher = dispatcher;
    this.onGone = onGone;
    this.maxConcurrentCalls = options.maxConcurrentCalls;
    this.frames = new FrameConnection(
      socket,
      options,
      {
        onFrame: (frame) => this.receive(frame),
        onClose: () => this.gone(),
      },
      { budget, pauseAbove: options.maxReplyBuffer },
    );
  }

  reply(id: number, response: ResponseMessage): void {
    if (!this.calls.delete(id)) return; // cancelled, or the connection is gone
    try {
      this.frames.sendMessage(FrameKind.RESPONSE, id, response, 0, response.body);
    } catch (error) {
      // Too large for a frame, or a value the header cannot carry: the caller gets that error,
      // never a status the error left undefined (which would read as success).
      this.replyError(id, errors.unsendableMessage('response', error), response.codec);
    }
    if (this.draining && this.calls.size === 0) this.closeDrained();
  }

  /**
   * Server shutdown. An idle connection closes at once, with a GOAWAY saying that whatever the
   * client sends now does not run; a busy one gets a plain GOAWAY (the client sends nothing new
   * on it), still serves what was already on the way, and closes like an idle one after its last
   * answer.
   */
  goaway(): void {
    if (this.draining) return;
    this.draining = true;
    if (this.calls.size === 0) return this.closeDrained();
    this.frames.send({ kind: FrameKind.GOAWAY, id: 0 });
  }

  /** Nothing is in flight and nothing is dispatched after this: what arrives later did not run, and the GOAWAY says so. */
  private closeDrained(): void {
    this.frames.goAway(errors.closedForShutdown());
  }

  private replyError(id: number, error: RpcError, codec: string): void {
    try {
      this.frames.send({ kind: FrameKind.RESPONSE, id, status: error.codeNumber, message: error.message, codec });
    } catch (failure) {
      // Not even the error fits in a frame: end the connection rather than leave the call unanswered.
      this.frames.goAway(errors.unsendableMessage('response', failure));
    }
  }

  private receive(frame: Frame): void {
    const id = frame.id;
    switch (frame.kind) {
      case FrameKind.REQUEST: {
        if (!id || !frame.service || !frame.method) {
          this.frames.protocolViolation(errors.protocolError('a request frame needs an id, a service and a method'));
          return;
        }
        if (this.calls.has(id)) {
          this.frames.protocolViolation(errors.protocolError(`request id ${id} is already in flight on this connection`));
          return;
        }
        if (this.calls.size >= this.maxConcurrentCalls) {
          // Like HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS: this call is refused, the connection stays.
          this.replyError(id, errors.tooManyConcurrentCalls(this.maxConcurrentCalls), frame.codec || 'json');
          return;
        }
        // The frame is the request message: only the deadline and a default codec are added.
        if (!frame.codec) frame.codec = 'json';
        if (frame.timeoutMs) frame.deadline = Date.now() + frame.timeoutMs;
        this.calls.set(id, DISPATCHING);
        const call = this.dispatcher.dispatch(frame, this);
        if (this.calls.has(id)) this.calls.set(id, call);
        break;
      }
      case FrameKind.CANCEL: {
        const call = this.calls.get(id);
        this.calls.delete(id);
        call?.cancel();
        if (this.draining && this.calls.size === 0) this.closeDrained();
        break;
      }
      default:
        // GOAWAY from a client, or kinds from a newer peer: nothing to do.
        break;
    }
  }

  private gone(): void {
    for (const call of this.calls.values()) call.cancel();
    this.calls.clear();
    this.onGone(this);
  }
}

/** What a listener holds now, for tests and diagnostics. */
export interface ListenerStats {
  connections: number;
  /** Bytes of incomplete frames held by all connections (bounded by maxBufferedBytes). */
  bufferedBytes: number;
  /** Bytes waiting to be sent, summed over the connections. */
  unsentBytes: number;
}

export class TcpListener implements Listener {
  readonly address: string;
  private readonly server: SocketServer;
  private readonly options: ResolvedTcpOptions;
  private readonly budget: BufferBudget;
  private readonly connections = new Set<ServerConnection>();
  private draining = false;
  private whenEmpty: (() => void) | undefined;

  private constructor(address: string, server: SocketServer, options: ResolvedTcpOptions) {
    this.address = address;
    this.server = server;
    this.options = options;
    this.budget = new BufferBudget(options.maxBufferedBytes);
  }

  static async listen(address: string, options: ResolvedTcpOptions, dispatcher: Dispatcher): Promise<TcpListener> {
    const target = parseAddress(address);
    let listener: TcpListener | undefined;
    const server = createSocketServer(target, options, (socket) => listener!.accept(socket, dispatcher));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (target.path !== undefined) server.listen(target.path, done);
      else server.listen(target.port, target.host, done);
    });
    listener = new TcpListener(formatAddress(boundAddress(server, target)), server, options);
    return listener;
  }

  get stats(): ListenerStats {
    let unsentBytes = 0;
    for (const c of this.connections) unsentBytes += c.frames.unsentBytes;
    return { connections: this.connections.size, bufferedBytes: this.budget.used, unsentBytes };
  }

  private accept(socket: Socket, dispatcher: Dispatcher): void {
    if (this.draining) return refuse(socket, errors.serverShuttingDown());
    if (this.connections.size >= this.options.maxConnections) return refuse(socket, errors.tooManyConnections(this.options.maxConnections));
    const connection = new ServerConnection(socket, this.options, dispatcher, this.budget, (c) => {
      this.connections.delete(c);
      if (this.connections.size === 0) this.whenEmpty?.();
    });
    this.connections.add(connection);
  }

  drain(): Promise<void> {
    this.draining = true;
    this.server.close();
    // A copy: idle connections close (and leave the set) at once.
    for (const connection of [...this.connections]) connection.goaway();
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.whenEmpty = resolve));
  }

  async close(): Promise<void> {
    this.draining = true;
    this.server.close();
    for (const connection of [...this.connections]) connection.frames.end();
    this.connections.clear();
    this.whenEmpty?.();
  }
}

/** A connection the listener does not take: the peer is told why in a GOAWAY, then it is closed. */
function refuse(socket: Socket, error: RpcError): void {
  socket.on('error', () => {}); // a refused peer that resets is no concern of ours
  socket.resume(); // read and drop what it sends, so that the close is clean
  closeAfterFlush(socket, encodeFrame({ kind: FrameKind.GOAWAY, id: 0, status: error.codeNumber, message: error.message }), true);
}

function boundAddress(server: SocketServer, asked: SocketAddress): SocketAddress {
  const bound = server.address();
  if (bound === null || typeof bound === 'string') return asked;
  return { secure: asked.secure, host: asked.host, port: bound.port };
}
