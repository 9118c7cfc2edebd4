import type { Server as SocketServer, Socket } from 'node:net';
import type { RpcError } from '@svc/core';
import { CallTable, errors, FrameKind, type Cancellable, type Dispatcher, type Frame, type Listener, type ReplyTarget, type ResponseMessage } from '@svc/core/transport';
import { formatAddress, parseAddress, type SocketAddress } from './address.js';
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

  constructor(socket: Socket, options: ResolvedTcpOptions, dispatcher: Dispatcher, onGone: (c: ServerConnection) => void) {
    this.dispatcher = dispatcher;
    this.onGone = onGone;
    this.frames = new FrameConnection(socket, options, {
      onFrame: (frame) => this.receive(frame),
      onClose: () => this.gone(),
    });
  }

  reply(id: number, response: ResponseMessage): void {
    if (!this.calls.delete(id)) return; // cancelled, or the connection is gone
    try {
      this.frames.sendMessage(FrameKind.RESPONSE, id, response, 0, response.body);
    } catch (error) {
      // The response does not fit in a frame: answer with that error instead.
      const e = error as RpcError;
      this.frames.send({ kind: FrameKind.RESPONSE, id, status: e.codeNumber, message: `the response could not be sent: ${e.message}`, codec: response.codec });
    }
  }

  goaway(): void {
    this.frames.send({ kind: FrameKind.GOAWAY, id: 0 });
  }

  private receive(frame: Frame): void {
    const id = frame.id;
    switch (frame.kind) {
      case FrameKind.REQUEST: {
        if (!id || !frame.service || !frame.method) {
          this.frames.protocolFailure(errors.protocolError('a request frame needs an id, a service and a method'));
          return;
        }
        if (this.calls.has(id)) {
          this.frames.protocolFailure(errors.protocolError(`request id ${id} is already in flight on this connection`));
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

export class TcpListener implements Listener {
  readonly address: string;
  private readonly server: SocketServer;
  private readonly connections = new Set<ServerConnection>();
  private draining = false;
  private whenEmpty: (() => void) | undefined;

  private constructor(address: string, server: SocketServer) {
    this.address = address;
    this.server = server;
  }

  static async listen(address: string, options: ResolvedTcpOptions, dispatcher: Dispatcher): Promise<TcpListener> {
    const target = parseAddress(address);
    let listener: TcpListener | undefined;
    const server = createSocketServer(target, options, (socket) => listener!.accept(socket, options, dispatcher));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (target.path !== undefined) server.listen(target.path, done);
      else server.listen(target.port, target.host, done);
    });
    listener = new TcpListener(formatAddress(boundAddress(server, target)), server);
    return listener;
  }

  private accept(socket: Socket, options: ResolvedTcpOptions, dispatcher: Dispatcher): void {
    if (this.draining) return void socket.destroy();
    const connection = new ServerConnection(socket, options, dispatcher, (c) => {
      this.connections.delete(c);
      if (this.connections.size === 0) this.whenEmpty?.();
    });
    this.connections.add(connection);
  }

  drain(): Promise<void> {
    this.draining = true;
    this.server.close();
    for (const connection of this.connections) connection.goaway();
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

function boundAddress(server: SocketServer, asked: SocketAddress): SocketAddress {
  const bound = server.address();
  if (bound === null || typeof bound === 'string') return asked;
  return { secure: asked.secure, host: asked.host, port: bound.port };
}
