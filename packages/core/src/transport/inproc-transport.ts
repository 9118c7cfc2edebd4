import * as errors from '../errors/framework-errors.js';
import type { Cancellable, Channel, Dispatcher, Listener, Peer, ReplyTarget, RequestMessage, ResponseHandler, ResponseMessage, StreamReceiver, StreamSender, Transport } from './transport.js';
import { InprocStream } from './inproc-stream.js';
import { handedOver } from './handed-over.js';
import type { EventChannel, EventTransport } from '../events/event-transport.js';
import { InprocEventBus } from '../events/inproc-event-bus.js';
import { CallTable } from './call-table.js';
import { metadataLimits, type MetadataLimits } from '../metadata.js';

/** Numbers the channels of this process, so that each caller has a peer address of its own. */
let channelCount = 0;

export interface InprocOptions {
  /** Metadata entries a request or response may carry, as over a network. Default 64. */
  maxMetadataEntries?: number;
  /** Bytes of metadata keys and values (UTF-8) a request or response may carry. Default 16 KiB. */
  maxMetadataBytes?: number;
}

/**
 * Calls within one process, with the same semantics as the network transports (codecs,
 * deadlines, cancel, drain, metadata caps, how far a failed call got; each side gets its own copy
 * of the metadata, without Object.prototype) but no sockets. A request's `peer` is
 * `{ transport: 'inproc', address: 'inproc://<name>#<n>' }`, n numbering the client channels. Share one instance between server and client:
 * `const t = inproc(); new Server({ transport: t }); new Client({ transport: t, ... })`.
 */
export function inproc(options: InprocOptions = {}): Transport & EventTransport {
  const limits = metadataLimits(options);
  const listeners = new Map<string, InprocListener>();
  // Events: one bus per inproc() instance, whatever the address.
  const bus = new InprocEventBus();
  return {
    schemes: ['inproc'],
    async listen(address, dispatcher) {
      const name = nameOf(address);
      if (listeners.has(name)) throw errors.addressInUse(`inproc://${name}`);
      const listener = new InprocListener(`inproc://${name}`, dispatcher, () => listeners.delete(name));
      listeners.set(name, listener);
      return listener;
    },
    connect(address) {
      const channel = new InprocChannel(address, () => listeners.get(nameOf(address)), limits);
      const events: EventChannel = { publishEvent: (event) => bus.publish(event) };
      return Object.assign(channel, events);
    },
    async subscribeEvents(_address, subscriptions, deliver) {
      return bus.subscribe(subscriptions, deliver);
    },
  };
}

function nameOf(address: string): string {
  return address.startsWith('inproc://') ? address.slice('inproc://'.length) : address;
}

class InprocListener implements Listener {
  readonly address: string;
  readonly dispatcher: Dispatcher;
  accepting = true;
  private readonly channels = new Set<InprocChannel>();
  private readonly release: () => void;
  private idle: (() => void) | undefined;

  constructor(address: string, dispatcher: Dispatcher, release: () => void) {
    this.address = address;
    this.dispatcher = dispatcher;
    this.release = release;
  }

  attach(channel: InprocChannel): void {
    this.channels.add(channel);
  }

  /** A channel has no more calls in flight here. */
  detachIfIdle(channel: InprocChannel): void {
    if (this.accepting || channel.pendingCount > 0) return;
    this.channels.delete(channel);
    if (this.channels.size === 0) this.idle?.();
  }

  drain(): Promise<void> {
    this.accepting = false;
    this.release();
    for (const channel of [...this.channels]) this.detachIfIdle(channel);
    if (this.channels.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  async close(): Promise<void> {
    this.accepting = false;
    this.release();
    for (const channel of this.channels) channel.lose(this);
    this.channels.clear();
    this.idle?.();
  }
}

interface Pending {
  readonly id: number;
  onResponse: ResponseHandler;
  call: Cancellable;
  listener: InprocListener;
  /** Handed to the dispatcher (the microtask after call() has run): from then on a handler may run. */
  dispatched: boolean;
}

class InprocChannel implements Channel, ReplyTarget {
  readonly address: string;
  private readonly find: () => InprocListener | undefined;
  private readonly pending = new CallTable<number, Pending>();
  /** Streams open on this channel (inproc-stream.ts). */
  private readonly streams = new Set<InprocStream>();
  private readonly limits: MetadataLimits;
  private nextId = 1;
  private closed = false;
  /** Who the server sees calling: one object for all the calls of this channel, as per connection. */
  private readonly peer: Peer;

  constructor(address: string, find: () => InprocListener | undefined, limits: MetadataLimits) {
    this.address = address;
    this.find = find;
    this.limits = limits;
    this.peer = { transport: 'inproc', address: `inproc://${nameOf(address)}#${++channelCount}` };
  }

  get pendingCount(): number {
    return this.pending.size + this.streams.size;
  }

  /** A stream, with the same credit rules as over a network (core counts them; this only moves the frames, a microtask apart). */
  openStream(request: RequestMessage, receiver: StreamReceiver): StreamSender {
    const id = this.nextId;
    this.nextId = id === 0xffffffff ? 1 : id + 1;
    const listener = this.closed ? undefined : this.find();
    if (!listener || !listener.accepting) {
      const error = this.closed ? errors.channelClosed(this.address) : errors.notConnected(this.address, 'nothing listens at this inproc address');
      queueMicrotask(() => receiver.fail(error));
      return NO_SENDER;
    }
    listener.attach(this);
    const stream = new InprocStream(receiver, this.limits, () => {
      this.streams.delete(stream);
      listener.detachIfIdle(this);
    });
    this.streams.add(stream);
    queueMicrotask(() => {
      if (stream.isOver) return;
      if (!listener.accepting && !this.runsOn(listener)) return stream.lose(errors.closedForShutdown());
      const dispatcher = listener.dispatcher;
      if (dispatcher.dispatchStream === undefined) return stream.lose(errors.streamsNotSupported(this.address).withProgress('refused'));
      const delivered: RequestMessage = {
        id,
        service: request.service,
        method: request.method,
        codec: request.codec,
        compression: request.compression,
        deadline: request.deadline,
        metadata: request.metadata,
        body: request.body,
        peer: this.peer,
        stream: request.stream,
      };
      stream.dispatched(listener, dispatcher.dispatchStream(handedOver(delivered, 'request', this.limits), stream.serverSide));
    });
    return stream.clientSide;
  }

  call(request: RequestMessage, onResponse: ResponseHandler): number {
    const id = this.nextId;
    this.nextId = id === 0xffffffff ? 1 : id + 1; // ids stay uint32, as on the wire
    const listener = this.closed ? undefined : this.find();
    if (!listener || !listener.accepting) {
      // Both never left the caller: not_sent.
      const error = this.closed ? errors.channelClosed(this.address) : errors.notConnected(this.address, 'nothing listens at this inproc address');
      queueMicrotask(() => onResponse(error, undefined));
      return id;
    }
    listener.attach(this);
    // A microtask hop, like a network would add, so callers never see a synchronous answer.
    const pending: Pending = { id, onResponse, listener, call: { cancel() {} }, dispatched: false };
    this.pending.set(id, pending);
    queueMicrotask(() => {
      if (this.pending.get(id) !== pending) return;
      // The server began to close while the request was on its way. As over TCP, where an idle
      // connection closes at once with a GOAWAY: with no call of this channel running there, the
      // request crossed the close and is not run (refused, safe to retry anywhere); with calls
      // running, it is served like them.
      if (!listener.accepting && !this.runsOn(listener)) {
        this.pending.delete(id);
        pending.onResponse(errors.closedForShutdown(), undefined);
        listener.detachIfIdle(this);
        return;
      }
      pending.dispatched = true;
      // Built field by field, not as { ...request, id, peer }: a spread that adds a key the source
      // lacks costs V8 a slow path, which made every in-process call 1.6× as expensive (measured).
      const delivered: RequestMessage = {
        id,
        service: request.service,
        method: request.method,
        codec: request.codec,
        compression: request.compression,
        deadline: request.deadline,
        metadata: request.metadata,
        body: request.body,
        peer: this.peer,
      };
      pending.call = listener.dispatcher.dispatch(handedOver(delivered, 'request', this.limits), this);
    });
    return id;
  }

  /** True while a call of this channel is dispatched on `listener` and not answered yet. */
  private runsOn(listener: InprocListener): boolean {
    for (const pending of this.pending.values()) if (pending.dispatched && pending.listener === listener) return true;
    for (const stream of this.streams) if (stream.listener === listener) return true;
    return false;
  }

  reply(id: number, response: ResponseMessage): void {
    const pending = this.pending.take(id);
    if (!pending) return;
    const received = handedOver(response, 'response', this.limits);
    queueMicrotask(() => pending.onResponse(undefined, received));
    pending.listener.detachIfIdle(this);
  }

  cancel(id: number): void {
    const pending = this.pending.take(id);
    if (!pending) return;
    pending.call.cancel();
    pending.listener.detachIfIdle(this);
  }

  /**
   * The listener closed with calls still in flight: those dispatched may have run (processed);
   * those still on their way never reached it (not_sent).
   */
  lose(listener: InprocListener): void {
    const lost = errors.connectionLost(this.address, 'the server closed');
    for (const pending of this.pending.values()) {
      if (pending.listener !== listener) continue;
      this.pending.delete(pending.id);
      pending.call.cancel();
      pending.onResponse(pending.dispatched ? lost : lost.withProgress('not_sent'), undefined);
    }
    for (const stream of [...this.streams]) if (stream.listener === listener) stream.lose(lost);
  }

  async close(): Promise<void> {
    this.closed = true;
    const closed = errors.channelClosed(this.address); // not_sent
    for (const pending of this.pending.values()) {
      this.pending.delete(pending.id);
      pending.call.cancel();
      // A dispatched call's handler may have run: processed; one not dispatched yet never will.
      pending.onResponse(pending.dispatched ? closed.withProgress('processed') : closed, undefined);
      pending.listener.detachIfIdle(this);
    }
    for (const stream of [...this.streams]) stream.lose(stream.listener === undefined ? closed : closed.withProgress('processed'));
  }
}

const NO_SENDER: StreamSender = { message() {}, window() {}, end() {}, cancel() {} };
