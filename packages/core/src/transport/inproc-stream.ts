import * as errors from '../errors/framework-errors.js';
import type { RpcError } from '../errors/rpc-error.js';
import type { MetadataLimits } from '../metadata.js';
import type { StreamEnd, StreamReceiver, StreamSender } from './transport.js';
import { handedOver } from './handed-over.js';

/** The listener a stream was dispatched on, as the stream needs to know it. */
export interface InprocStreamListener {
  readonly accepting: boolean;
}

/**
 * One in-process stream: the client's receiver and the server's, and the frames between them,
 * each a microtask later as a network would make it. Credit is core's (both ends count it as over
 * TCP), so nothing here buffers beyond what the windows allow, except the client's frames sent
 * before the server has the stream (the microtask of the dispatch). Over at the first END from
 * the server, CANCEL from the client, or a loss (listener or channel closed).
 */
export class InprocStream {
  listener: InprocStreamListener | undefined = undefined;
  private server: StreamReceiver | undefined = undefined;
  private early: ((server: StreamReceiver) => void)[] | undefined = undefined;
  private over = false;
  private readonly client: StreamReceiver;
  private readonly limits: MetadataLimits;
  private readonly release: () => void;

  constructor(client: StreamReceiver, limits: MetadataLimits, release: () => void) {
    this.client = client;
    this.limits = limits;
    this.release = release;
  }

  get isOver(): boolean {
    return this.over;
  }

  /** The server took the stream: what the client sent meanwhile goes to it, in order. */
  dispatched(listener: InprocStreamListener, server: StreamReceiver): void {
    this.listener = listener;
    this.server = server;
    const early = this.early;
    this.early = undefined;
    if (early !== undefined) for (const frame of early) this.toServer(frame);
  }

  /** The stream is lost for both sides (listener or channel closed, no dispatcher for streams). */
  lose(error: RpcError): void {
    if (this.over) return;
    this.end();
    const server = this.server;
    if (server !== undefined) queueMicrotask(() => server.fail(error));
    queueMicrotask(() => this.client.fail(error));
  }

  readonly clientSide: StreamSender = {
    message: (body, compression, blocked) => this.toServer((server) => server.message(body, compression, blocked)),
    window: (credit) => this.toServer((server) => server.window(credit)),
    end: (end) => this.toServer((server) => server.end(end)),
    cancel: () => {
      if (this.over) return;
      this.end();
      const server = this.server;
      if (server !== undefined) queueMicrotask(() => server.fail(errors.cancelledByCaller()));
    },
  };

  readonly serverSide: StreamSender = {
    message: (body, compression, blocked) => this.toClient((client) => client.message(body, compression, blocked)),
    window: (credit) => this.toClient((client) => client.window(credit)),
    end: (end: StreamEnd) => {
      if (this.over) return;
      this.end();
      const received = handedOver(end, 'response', this.limits);
      queueMicrotask(() => this.client.end(received));
    },
    cancel: () => {},
  };

  private toServer(frame: (server: StreamReceiver) => void): void {
    if (this.over) return;
    const server = this.server;
    if (server === undefined) {
      (this.early ??= []).push(frame);
      return;
    }
    // Delivered even if the stream ends meanwhile: frames sent before the end arrive before it,
    // and a receiver that is done ignores the rest.
    queueMicrotask(() => frame(server));
  }

  private toClient(frame: (client: StreamReceiver) => void): void {
    if (this.over) return;
    queueMicrotask(() => frame(this.client));
  }

  private end(): void {
    this.over = true;
    this.release();
  }
}
