import { createInbox, type Msg, type NatsConnection, type NatsError, type Subscription } from 'nats';
import { checkedFrameBytes, errors, FrameDecoder, FrameKind, headerSize, progressFromWire, remainingMs, retryableFromWire, writeFrameAt, type Channel, type Frame, type FrameDecoderOptions, type MetadataLimits, type RequestMessage, type ResponseHandler, type StreamReceiver, type StreamSender } from '@svc/core/transport';
import { CODE_NUMBERS, RpcError } from '@svc/core';
import type { EventChannel, EventMessage } from '@svc/core/transport';
import { checkEventTopic, eventHeaders } from './nats-events.js';
import type { NatsAddress } from './address.js';
import { decodeResponse } from './call-headers.js';
import { FrameBatch } from './frame-batch.js';
import { PendingRequests, type Pending } from './pending-requests.js';
import type { ConnectionPool, SharedConnection } from './shared-connection.js';
import { noResponders, payloadTooLarge } from './nats-errors.js';
import type { Subjects } from './subjects.js';
import { ClientStreams, type ClientStreamOptions } from './client-streams.js';
import { NO_STREAM_SENDER } from './client-stream-link.js';

/**
 * The client side. Each call is an @svc frame; the calls of one tick to one service travel
 * together, up to `callsPerMessage` to a NATS message on `svc.rpc.<Service>.$frames`, and their
 * answers come back as frames to this channel's own inbox (`_INBOX.<nuid>.<message id>`), so
 * all calls share one subscription and are matched by call id. A channel to `nats://host:port`
 * reaches any instance of the called service (queue group); with `?instance=<id>` only that one.
 * Streams open through the same subjects and stay on the instance that took them (client-streams.ts).
 */
export class NatsChannel implements Channel, EventChannel {
  readonly address: string;
  private readonly target: NatsAddress;
  private readonly pool: ConnectionPool;
  private readonly subjects: Subjects;
  private shared: SharedConnection | undefined;
  private unwatch: (() => void) | undefined;
  private inbox: string | undefined;
  private sub: Subscription | undefined;
  /** Calls waiting for answers, and the messages they left in. */
  private readonly pending = new PendingRequests();
  private readonly outbound: FrameBatch<Pending>;
  /**
   * Calls made while the connection is down, oldest first, waiting for nats.js to reconnect (to
   * the same server or another node of the cluster): every service and instance is reached over
   * this one connection, so failing them at once would fail them everywhere.
   */
  private readonly waiting: { pending: Pending; until: number }[] = [];
  private waitTimer: NodeJS.Timeout | undefined;
  private readonly reconnectWait: number;
  private nextId = 1;
  /** This channel's streams, made with the first one. */
  private streams: ClientStreams | undefined;
  private readonly streamOptions: ClientStreamOptions;
  private lastService = '';
  private lastSubject = '';
  private closed = false;
  private readonly metadataLimits: MetadataLimits;
  private readonly decoderOptions: FrameDecoderOptions;
  /** One decoder for every reply: each is whole, so it ends empty unless a reply was bad. */
  private decoder: FrameDecoder;
  /** Hands each answer frame of a reply to its call; made once (a reply's frames pass through it). */
  private readonly onAnswer = (frame: Frame): void => {
    if (frame.kind !== FrameKind.RESPONSE) return;
    const pending = this.pending.take(frame.id);
    if (pending === undefined) return; // cancelled, timed out or failed already, or not ours
    if (!frame.codec) frame.codec = 'json';
    pending.onResponse(undefined, frame);
  };

  constructor(address: string, target: NatsAddress, pool: ConnectionPool, subjects: Subjects, callsPerMessage: number, metadataLimits: MetadataLimits, reconnectWait: number, streamOptions: ClientStreamOptions) {
    this.metadataLimits = metadataLimits;
    this.streamOptions = streamOptions;
    this.reconnectWait = reconnectWait;
    // A message is never larger than the NATS server's max_payload: frames need no limit of their own.
    this.decoderOptions = { maxFrameSize: Number.MAX_SAFE_INTEGER, ...metadataLimits };
    this.decoder = new FrameDecoder(this.decoderOptions);
    this.address = address;
    this.target = target;
    this.pool = pool;
    this.subjects = subjects;
    this.outbound = new FrameBatch<Pending>({
      send: (subject, calls, payload) => this.publish(subject, calls, payload),
      write: writeRequestFrame,
      maxFrames: callsPerMessage,
      maxBytes: () => this.shared?.nc?.info?.max_payload ?? Infinity,
      alive: (call) => this.stillToSend(call),
    });
  }

  call(request: RequestMessage, onResponse: ResponseHandler): number {
    const id = this.nextId++;
    if (this.nextId > 0x7fffffff) this.nextId = 1;
    if (this.closed) {
      queueMicrotask(() => onResponse(errors.channelClosed(this.address), undefined));
      return id;
    }
    const pending: Pending = { id, onResponse, service: request.service, request: undefined, timeoutMs: 0, headLength: 0, frameBytes: 0, sent: undefined };
    this.pending.add(pending);
    const shared = this.connection();
    if (shared.nc !== undefined) {
      if (shared.connected) this.send(shared.nc, pending, request);
      else this.wait(pending, request);
    } else {
      // First use: wait for the connection (its connect timeout bounds the wait).
      shared.ready.then(
        (nc) => this.send(nc, pending, request),
        (error: Error) => {
          this.pending.settle(id, errors.notConnected(this.address, error.message));
          this.drop(shared);
        },
      );
    }
    return id;
  }

  cancel(id: number): void {
    const pending = this.pending.take(id);
    if (pending === undefined) return;
    const nc = this.shared?.nc;
    if (pending.sent !== undefined && nc !== undefined && this.shared!.connected) {
      nc.publish(this.subjects.cancel(pending.service), `${pending.sent.inbox} ${id}`);
    }
  }

  /**
   * Opens a stream: its first message goes to the service's queue group (or the addressed
   * instance), the rest to the instance that took it; the server's messages come to this channel's
   * inbox, `<inbox>.s.<id>`.
   */
  openStream(request: RequestMessage, receiver: StreamReceiver): StreamSender {
    if (this.closed) {
      queueMicrotask(() => receiver.fail(errors.channelClosed(this.address)));
      return NO_STREAM_SENDER;
    }
    const shared = this.connection();
    const streams = (this.streams ??= new ClientStreams(this.address, this.target.instance, this.streamOptions));
    const instance = this.target.instance;
    const openSubject = instance === undefined ? this.subjects.streamOpen(request.service) : this.subjects.instanceStreamOpen(instance, request.service);
    return streams.open(request, receiver, shared, (this.inbox ??= createInbox()), openSubject);
  }

  /** Publishes an event on `svc.evt.<topic>`; resolves once the NATS server has it. */
  async publishEvent(event: EventMessage): Promise<void> {
    checkEventTopic(event.topic, false);
    // Its metadata was checked by core's publishOn, for every transport (subscribers drop an
    // event whose metadata breaks the rules, so the publisher is told there instead).
    if (this.closed) throw errors.channelClosed(this.address);
    const shared = this.connection();
    let nc: NatsConnection;
    try {
      nc = await shared.ready;
    } catch (error) {
      this.drop(shared);
      throw errors.notConnected(this.address, (error as Error).message);
    }
    if (!shared.connected) throw errors.notConnected(this.address, 'the connection to NATS is down; reconnecting');
    const max = nc.info?.max_payload ?? Infinity;
    if (event.body.length > max) throw payloadTooLarge(event.body.length, max, 'not_sent');
    nc.publish(this.subjects.event(event.topic), event.body, { headers: eventHeaders(event) });
    await nc.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closed = errors.channelClosed(this.address);
    this.failAll(closed.withProgress('processed'), closed);
    this.streams?.close(closed.withProgress('processed'));
    this.stopWaiting();
    this.sub?.unsubscribe();
    this.sub = undefined;
    if (this.shared !== undefined) {
      const shared = this.shared;
      this.drop(shared);
      await this.pool.release(shared);
    }
  }

  private connection(): SharedConnection {
    if (this.shared !== undefined) return this.shared;
    const shared = this.pool.acquire(this.target.key, this.target.servers);
    this.shared = shared;
    this.unwatch = shared.on((event) => {
      // Calls not published yet stay: they wait for the reconnect (stillToSend, wait).
      if (event === 'down') {
        const lost = errors.connectionLost(this.address, 'the connection to NATS dropped');
        this.failPublished(lost);
        // A stream's messages may be lost meanwhile, and its server may be gone: it cannot wait for the reconnect.
        this.streams?.failAll(lost, false);
      } else if (event === 'up') this.resume(shared);
      else if (event === 'closed') {
        this.streams?.reset(errors.connectionLost(this.address, 'the NATS connection closed'));
        // Said apart: a call never published was not sent, and its error says so.
        this.failAll(errors.connectionLost(this.address, 'the NATS connection closed').withProgress('processed'), errors.notConnected(this.address, 'the NATS connection closed'));
        this.stopWaiting();
        this.drop(shared);
      }
    });
    return shared;
  }

  /** Forgets a connection that failed or closed; the next call opens a new one. */
  private drop(shared: SharedConnection): void {
    if (this.shared !== shared) return;
    this.unwatch?.();
    this.unwatch = undefined;
    this.shared = undefined;
    this.sub = undefined;
    this.inbox = undefined;
    this.streams?.reset(errors.notConnected(this.address, 'the NATS connection closed'));
    if (!this.closed) void this.pool.release(shared);
  }

  /**
   * A call made while the connection is down waits up to `reconnectWait` ms (and never past its
   * deadline: the client cancels it then) for the connection to come back, then fails not_sent.
   */
  private wait(pending: Pending, request: RequestMessage): void {
    if (this.reconnectWait <= 0) {
      queueMicrotask(() => this.pending.settle(pending.id, errors.notConnected(this.address, 'the connection to NATS is down; reconnecting')));
      return;
    }
    pending.request = request;
    this.waiting.push({ pending, until: performance.now() + this.reconnectWait });
    this.waitTimer ??= setTimeout(() => this.expireWaiting(), this.reconnectWait).unref();
  }

  /** Fails the calls that waited `reconnectWait` in vain; the timer follows the oldest one left. */
  private expireWaiting(): void {
    this.waitTimer = undefined;
    const now = performance.now();
    let n = 0;
    while (n < this.waiting.length && this.waiting[n]!.until <= now) n++;
    const expired = this.waiting.splice(0, n);
    const error = errors.notConnected(this.address, `the connection to NATS is down and did not come back within ${this.reconnectWait} ms; reconnecting`);
    for (const { pending } of expired) this.pending.settle(pending.id, error);
    const next = this.waiting[0];
    if (next !== undefined) this.waitTimer = setTimeout(() => this.expireWaiting(), Math.max(1, next.until - now)).unref();
  }

  /** Back up: the calls that waited go out now, their time left taken afresh. */
  private resume(shared: SharedConnection): void {
    const nc = shared.nc;
    const waiting = this.waiting.splice(0);
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    if (nc === undefined) return;
    for (const { pending } of waiting) {
      const request = pending.request;
      if (request !== undefined && this.pending.holds(pending)) this.send(nc, pending, request);
    }
  }

  private stopWaiting(): void {
    this.waiting.length = 0;
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
  }

  /**
   * Asked by the batch just before a call's frame is written: false for a call cancelled
   * meanwhile (never sent), and for one whose connection went down in the meantime, which waits
   * for the reconnect instead of going to nats.js (which drops what it is given at the wrong
   * moment of a reconnect, unseen).
   */
  private stillToSend(call: Pending): boolean {
    if (!this.pending.holds(call)) return false;
    const shared = this.shared;
    if (shared !== undefined && shared.nc !== undefined && !shared.connected) {
      this.wait(call, call.request!);
      return false;
    }
    return true;
  }

  private send(nc: NatsConnection, pending: Pending, request: RequestMessage): void {
    const id = pending.id;
    if (!this.pending.holds(pending)) return; // cancelled or failed meanwhile
    if (this.sub === undefined) {
      // The inbox may exist already: streams use it too (`<inbox>.s.*`).
      this.inbox ??= createInbox();
      this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (error, msg) => this.onReply(error, msg) });
    }
    const subject = this.subjectOf(request.service);
    // On the wire a deadline is the time left, so clocks of client and server need not agree.
    const timeoutMs = remainingMs(request.deadline);
    const headLength = headerSize(id, request, timeoutMs);
    const frameBytes = checkedFrameBytes(headLength, request.body.length, Number.MAX_SAFE_INTEGER);
    const max = nc.info?.max_payload ?? Infinity;
    if (frameBytes > max) {
      this.pending.settle(id, payloadTooLarge(frameBytes, max, 'not_sent'));
      return;
    }
    pending.request = request;
    pending.timeoutMs = timeoutMs;
    pending.headLength = headLength;
    pending.frameBytes = frameBytes;
    this.outbound.add(subject, pending);
  }

  /**
   * The subject of a service's calls. Kept from the last call: a string built anew would be hashed
   * again for every lookup in the batch (1-2 % of the client at high load).
   */
  private subjectOf(service: string): string {
    if (service === this.lastService) return this.lastSubject;
    const instance = this.target.instance;
    this.lastSubject = instance === undefined ? this.subjects.frames(service) : this.subjects.instanceFrames(instance, service);
    this.lastService = service;
    return this.lastSubject;
  }

  /** Publishes one NATS message of requests (see FrameBatch). */
  private publish(subject: string, calls: Pending[], payload: Uint8Array): void {
    const nc = this.shared?.nc;
    const inbox = this.inbox;
    if (nc === undefined || inbox === undefined) {
      for (const call of calls) this.pending.settle(call.id, errors.notConnected(this.address, 'the connection to NATS closed'));
      return;
    }
    const message = this.pending.publishing(inbox, calls);
    try {
      nc.publish(subject, payload, { reply: `${inbox}.${message.id}` });
    } catch (error) {
      for (const call of calls) this.pending.settle(call.id, errors.notConnected(this.address, (error as Error).message));
    }
  }

  private onReply(error: NatsError | null, msg: Msg): void {
    if (error !== null) return;
    const h = msg.headers;
    if (h !== undefined) {
      // A message-level answer for every call of one request message: no responders, or an error.
      const message = this.pending.message(messageIdOf(msg.subject));
      if (message === undefined) return;
      let failure: RpcError;
      // No responders: nobody had the subject, so none of the calls was received (not_sent).
      if (h.hasError && h.code === 503) failure = noResponders(message.calls[0]!.service, this.target.instance);
      else {
        try {
          // A refused message (maxCallsPerMessage, a violation) says refused in Svc-Error.
          const r = decodeResponse(h, msg.data, this.metadataLimits);
          failure = RpcError.fromWire(r.status || CODE_NUMBERS.INTERNAL, r.message ?? 'the server refused the message', r.details, r.metadata, undefined, progressFromWire(r.progress), retryableFromWire(r.retryable));
        } catch (e) {
          failure = errors.protocolError(`the reply headers do not parse (${(e as Error).message})`);
        }
      }
      this.pending.failMessage(message, failure);
      return;
    }
    const decoder = this.decoder;
    try {
      decoder.push(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.length), this.onAnswer);
      if (decoder.pendingBytes > 0) throw errors.protocolError('the reply ends inside a frame');
    } catch (e) {
      this.decoder = new FrameDecoder(this.decoderOptions);
      // A reply that breaks the wire format: its frames before the violation were handed on, none
      // after it is. The calls of the message it answers that are still waiting fail now rather
      // than at their deadline (or never, without one). Replies naming no message of this channel
      // (whoever else publishes on its inbox) change nothing.
      const message = this.pending.message(messageIdOf(msg.subject));
      if (message !== undefined) this.pending.failMessage(message, errors.protocolError(`a reply to these calls does not parse (${(e as Error).message.replace(/^protocol error: /, '')})`));
    }
  }

  /**
   * Fails every call waiting here. A call published (handed to nats.js, which may still send it
   * after a reconnect) may have run: processed. One not published yet (still in the tick's batch,
   * waiting for the first connect or for a reconnect) never will be, as it is no longer pending:
   * not_sent.
   */
  private failAll(published: RpcError, unpublished: RpcError): void {
    this.pending.failAll((pending) => (pending.sent !== undefined ? published : unpublished));
  }

  /** Fails the calls published before the connection dropped (they may have run: processed); the others stay. */
  private failPublished(error: RpcError): void {
    const published = error.withProgress('processed');
    this.pending.failAll((pending) => (pending.sent !== undefined ? published : undefined));
  }
}

/** The message id in a reply subject `<inbox>.<message id>`. */
function messageIdOf(subject: string): number {
  return Number(subject.slice(subject.lastIndexOf('.') + 1));
}

/** A request's frame, written into its NATS message; the request (and its body) may then go. */
function writeRequestFrame(call: Pending, out: Buffer, pos: number): number {
  const request = call.request!;
  call.request = undefined;
  return writeFrameAt(out, pos, FrameKind.REQUEST, call.id, request, call.timeoutMs, request.body, call.headLength);
}
