import type { Server as SocketServer, Socket } from 'node:net';
import type { RpcError } from '@svc/core';
import { CallTable, deadlineFrom, errors, FrameKind, progressToWire, retryableToWire, WireProgress, type Cancellable, type Dispatcher, type Frame, type Listener, type Peer, type ReplyTarget, type ResponseMessage } from '@svc/core/transport';
import { formatAddress, parseAddress, type SocketAddress } from './address.js';
import { BufferBudget } from './buffer-budget.js';
import { closeAfterFlush } from './close-after-flush.js';
import { FrameConnection, goAwayFrame } from './frame-connection.js';
import { createSocketServer } from './socket-factory.js';
import { ServerStreamLink } from './server-stream-link.js';
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
  private readonly maxConcurrentStreams: number;
  /** Streams open on this connection now (they are among `calls` too). */
  private streams = 0;
  /** Who is calling, set on every request dispatched: one object for the connection. */
  private readonly peer: Peer;
  /** Set by goaway(): no new calls are expected, and the connection closes once none is in flight. */
  private draining = false;

  constructor(socket: Socket, options: ResolvedTcpOptions, dispatcher: Dispatcher, budget: BufferBudget, onGone: (c: ServerConnection) => void, peer: Peer) {
    this.dispatcher = dispatcher;
    this.onGone = onGone;
    this.peer = peer;
    this.maxConcurrentCalls = options.maxConcurrentCalls;
    this.maxConcurrentStreams = options.maxConcurrentStreams;
    this.frames = new FrameConnection(
      socket,
      options,
      {
        onFrame: (frame) => this.receive(frame),
        onClose: (reason) => this.gone(reason),
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
      // never a status the error left undefined (which would read as success). The call got as
      // far as the answer it replaces says (processed for a handler's answer).
      this.replyError(id, errors.unsendableMessage('response', error), response.codec, response.progress ?? WireProgress.PROCESSED);
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

  /** An error answer made here, with how far the call got (`progress`, on the wire) and whether it may be retried. */
  private replyError(id: number, error: RpcError, codec: string, progress: number = progressToWire(error.progress)): void {
    try {
      this.frames.send({ kind: FrameKind.RESPONSE, id, status: error.codeNumber, message: error.message, codec, progress, retryable: retryableToWire(error) });
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
          this.replyError(id, errors.tooManyConcurrentCalls(this.maxConcurrentCalls), frame.codec || 'json', WireProgress.REFUSED);
          return;
        }
        // The frame is the request message: only the deadline, a default codec and the peer are added.
        if (!frame.codec) frame.codec = 'json';
        frame.deadline = deadlineFrom(frame.timeoutMs);
        frame.peer = this.peer;
        if (frame.stream !== 0) return this.openStream(frame);
        this.calls.set(id, DISPATCHING);
        const call = this.dispatcher.dispatch(frame, this);
        if (this.calls.has(id)) this.calls.set(id, call);
        break;
      }
      case FrameKind.CANCEL: {
        this.calls.take(id)?.cancel();
        if (this.draining && this.calls.size === 0) this.closeDrained();
        break;
      }
      case FrameKind.MESSAGE:
      case FrameKind.WINDOW:
      case FrameKind.END: {
        const link = this.calls.get(id);
        // Frames of a stream that ended meanwhile (they crossed its END or CANCEL) are dropped.
        if (link instanceof ServerStreamLink) link.deliver(frame);
        break;
      }
      default:
        // A kind from a newer peer, for a call: answer that call with an error rather than
        // ignore it (its call or stream here, if any, ends). GOAWAY, PONG from a client: nothing.
        if (frame.kind > FrameKind.WINDOW && id !== 0) {
          const call = this.calls.take(id);
          if (call instanceof ServerStreamLink) call.lose(errors.unknownFrameKind(frame.kind));
          else call?.cancel();
          this.replyError(id, errors.unknownFrameKind(frame.kind), frame.codec || 'json');
          if (this.draining && this.calls.size === 0) this.closeDrained();
        }
        break;
    }
  }

  /** A REQUEST that opens a stream: core serves it through the link, which stays among the calls until its END. */
  private openStream(frame: Frame): void {
    const id = frame.id;
    if (this.dispatcher.dispatchStream === undefined) {
      this.replyError(id, errors.streamsNotSupported(this.peer.address).withProgress('refused'), frame.codec);
      return;
    }
    if (this.streams >= this.maxConcurrentStreams) {
      this.replyError(id, errors.tooManyConcurrentStreams(this.maxConcurrentStreams), frame.codec, WireProgress.REFUSED);
      return;
    }
    this.streams++;
    const link = new ServerStreamLink(id, this.frames, (ended) => {
      this.streams--;
      if (this.calls.get(id) === ended) this.calls.delete(id);
      if (this.draining && this.calls.size === 0) this.closeDrained();
    });
    this.calls.set(id, link);
    link.receiver = this.dispatcher.dispatchStream(frame, link.sender);
  }

  private gone(reason: RpcError | undefined): void {
    const lost = reason ?? errors.connectionLost(this.peer.address, 'the connection closed');
    for (const call of this.calls.values()) {
      if (call instanceof ServerStreamLink) call.lose(lost);
      else call.cancel();
    }
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
  /** Bytes read from and written to the kernel since the listener opened, by every connection it accepted. */
  bytesRead: number;
  bytesWritten: number;
}

export class TcpListener implements Listener {
  readonly address: string;
  private readonly server: SocketServer;
  private readonly options: ResolvedTcpOptions;
  private readonly target: SocketAddress;
  private readonly budget: BufferBudget;
  private readonly connections = new Set<ServerConnection>();
  private draining = false;
  private whenEmpty: (() => void) | undefined;
  /** What connections that have closed read and wrote (the open ones are asked in stats). */
  private closedBytesRead = 0;
  private closedBytesWritten = 0;

  private constructor(address: string, server: SocketServer, options: ResolvedTcpOptions, target: SocketAddress) {
    this.address = address;
    this.server = server;
    this.options = options;
    this.target = target;
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
    listener = new TcpListener(formatAddress(boundAddress(server, target)), server, options, target);
    return listener;
  }

  get stats(): ListenerStats {
    let unsentBytes = 0;
    let bytesRead = this.closedBytesRead;
    let bytesWritten = this.closedBytesWritten;
    for (const c of this.connections) {
      unsentBytes += c.frames.unsentBytes;
      bytesRead += c.frames.socket.bytesRead;
      bytesWritten += c.frames.socket.bytesWritten;
    }
    return { connections: this.connections.size, bufferedBytes: this.budget.used, unsentBytes, bytesRead, bytesWritten };
  }

  private accept(socket: Socket, dispatcher: Dispatcher): void {
    if (this.draining) return refuse(socket, errors.serverShuttingDown());
    if (this.connections.size >= this.options.maxConnections) return refuse(socket, errors.tooManyConnections(this.options.maxConnections));
    const connection = new ServerConnection(socket, this.options, dispatcher, this.budget, (c) => {
      if (this.connections.delete(c)) {
        this.closedBytesRead += c.frames.socket.bytesRead;
        this.closedBytesWritten += c.frames.socket.bytesWritten;
      }
      if (this.connections.size === 0) this.whenEmpty?.();
    }, this.peerOf(socket));
    this.connections.add(connection);
  }

  /**
   * Who calls on an accepted socket: 'tcp://10.0.0.7:53122', 'tls://[::1]:53122' (the remote
   * address and port); for a unix socket, whose peers have no address, 'unix://' and the path
   * listened on.
   */
  private peerOf(socket: Socket): Peer {
    const { secure, path } = this.target;
    if (path !== undefined) return { transport: 'unix', address: `unix://${path}` };
    const transport = secure ? 'tls' : 'tcp';
    const host = socket.remoteAddress;
    if (host === undefined) return { transport, address: `${transport}://unknown` };
    return { transport, address: formatAddress({ secure, host, port: socket.remotePort ?? 0 }) };
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

/**
 * A connection the listener does not take: the peer is told why in a GOAWAY, then it is closed.
 * Nothing it sends is dispatched, so the GOAWAY says refused (the errors given here say so).
 */
function refuse(socket: Socket, error: RpcError): void {
  socket.on('error', () => {}); // a refused peer that resets is no concern of ours
  socket.resume(); // read and drop what it sends, so that the close is clean
  closeAfterFlush(socket, goAwayFrame(error), true);
}

function boundAddress(server: SocketServer, asked: SocketAddress): SocketAddress {
  const bound = server.address();
  if (bound === null || typeof bound === 'string') return asked;
  return { secure: asked.secure, host: asked.host, port: bound.port };
}
