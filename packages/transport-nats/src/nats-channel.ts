import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type NatsError, type Subscription } from 'nats';
import { TickBatch } from './tick-batch.js';
import { CallTable, errors, type Channel, type RequestMessage, type ResponseHandler } from '@svc/core/transport';
import type { RpcError } from '@svc/core';
import type { EventChannel, EventMessage } from '@svc/core/transport';
import { checkEventTopic, eventHeaders } from './nats-events.js';
import type { NatsAddress } from './address.js';
import { decodeResponse, requestHeaders } from './call-headers.js';
import type { ConnectionPool, SharedConnection } from './shared-connection.js';
import { noResponders, payloadTooLarge } from './nats-errors.js';
import type { Subjects } from './subjects.js';

interface OutboundRequest {
  readonly nc: NatsConnection;
  readonly id: number;
  readonly pending: Pending;
  readonly subject: string;
  readonly body: Uint8Array;
  readonly reply: string;
  readonly headers: MsgHdrs | undefined;
}

interface Pending {
  readonly id: number;
  readonly onResponse: ResponseHandler;
  readonly service: string;
  /** Set once the request is published. */
  reply: string | undefined;
}

/**
 * The client side: every call is a NATS request whose reply comes to this channel's own inbox
 * (`_INBOX.<nuid>.<id>`), so many calls share one subscription and are matched by id. A channel to
 * `nats://host:port` reaches any instance of the called service (queue group); with
 * `?instance=<id>` only that instance.
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
  private readonly pending = new CallTable<number, Pending>();
  private readonly outbound = new TickBatch<OutboundRequest>((batch) => this.publishBatch(batch));
  private nextId = 1;
  private closed = false;

  constructor(address: string, target: NatsAddress, pool: ConnectionPool, subjects: Subjects) {
    this.address = address;
    this.target = target;
    this.pool = pool;
    this.subjects = subjects;
  }

  call(request: RequestMessage, onResponse: ResponseHandler): number {
    const id = this.nextId++;
    if (this.nextId > 0x7fffffff) this.nextId = 1;
    if (this.closed) {
      queueMicrotask(() => onResponse(errors.channelClosed(this.address), undefined));
      return id;
    }
    const pending: Pending = { id, onResponse, service: request.service, reply: undefined };
    this.pending.set(id, pending);
    const shared = this.connection();
    if (shared.nc !== undefined) {
      if (shared.connected) this.send(shared.nc, id, pending, request);
      else queueMicrotask(() => this.settle(id, errors.notConnected(this.address, 'the connection to NATS is down; reconnecting')));
    } else {
      // First use: wait for the connection (its connect timeout bounds the wait).
      shared.ready.then(
        (nc) => this.send(nc, id, pending, request),
        (error: Error) => {
          this.settle(id, errors.notConnected(this.address, error.message));
          this.drop(shared);
        },
      );
    }
    return id;
  }

  cancel(id: number): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    const nc = this.shared?.nc;
    if (pending.reply !== undefined && nc !== undefined && this.shared!.connected) {
      nc.publish(this.subjects.cancel(pending.service), pending.reply);
    }
  }

  /** Publishes an event on `svc.evt.<topic>`; resolves once the NATS server has it. */
  async publishEvent(event: EventMessage): Promise<void> {
    checkEventTopic(event.topic, false);
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
    if (event.body.length > max) throw payloadTooLarge(event.body.length, max);
    nc.publish(this.subjects.event(event.topic), event.body, { headers: eventHeaders(event) });
    await nc.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(errors.channelClosed(this.address));
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
      if (event === 'down') this.failAll(errors.connectionLost(this.address, 'the connection to NATS dropped'));
      else if (event === 'closed') {
        this.failAll(errors.connectionLost(this.address, 'the NATS connection closed'));
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
    if (!this.closed) void this.pool.release(shared);
  }

  private send(nc: NatsConnection, id: number, pending: Pending, request: RequestMessage): void {
    if (this.pending.get(id) !== pending) return; // cancelled or failed meanwhile
    if (this.sub === undefined || this.inbox === undefined) {
      this.inbox = createInbox();
      this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (error, msg) => this.onReply(error, msg) });
    }
    const subject =
      this.target.instance === undefined
        ? this.subjects.call(request.service, request.method)
        : this.subjects.instanceCall(this.target.instance, request.service, request.method);
    const reply = `${this.inbox}.${id}`;
    const max = nc.info?.max_payload ?? Infinity;
    if (request.body.length > max) return this.settle(id, payloadTooLarge(request.body.length, max));
    pending.reply = reply;
    this.outbound.add({ nc, id, pending, subject, body: request.body, reply, headers: requestHeaders(request) });
  }

  /** Publishes the requests of one tick together (see TickBatch). */
  private publishBatch(batch: OutboundRequest[]): void {
    for (const r of batch) {
      if (this.pending.get(r.id) !== r.pending) continue; // cancelled meanwhile: never sent
      try {
        r.nc.publish(r.subject, r.body, { reply: r.reply, headers: r.headers });
      } catch (error) {
        this.settle(r.id, errors.notConnected(this.address, (error as Error).message));
      }
    }
  }

  private onReply(error: NatsError | null, msg: Msg): void {
    if (error !== null) return;
    const id = Number(msg.subject.slice(msg.subject.lastIndexOf('.') + 1));
    const pending = this.pending.get(id);
    if (pending === undefined) return; // cancelled, timed out or failed already
    this.pending.delete(id);
    const h = msg.headers;
    if (h !== undefined && h.hasError && h.code === 503) {
      pending.onResponse(noResponders(pending.service, this.target.instance), undefined);
      return;
    }
    let response;
    try {
      response = decodeResponse(h, msg.data);
    } catch (e) {
      pending.onResponse(errors.protocolError(`the reply headers do not parse (${(e as Error).message})`), undefined);
      return;
    }
    pending.onResponse(undefined, response);
  }

  private settle(id: number, error: RpcError): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    pending.onResponse(error, undefined);
  }

  private failAll(error: RpcError): void {
    for (const pending of this.pending.values()) {
      this.pending.delete(pending.id);
      pending.onResponse(error, undefined);
    }
  }
}
