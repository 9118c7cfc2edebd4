import { nuid, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { CallTable, Compression, type Cancellable, type Dispatcher, type Listener, type ReplyTarget, type ResponseMessage } from '@svc/core/transport';
import { CODE_NUMBERS, codeFromNumber } from '@svc/core';
import { formatAddress, type NatsAddress } from './address.js';
import { decodeRequest, responseHeaders } from './call-headers.js';
import { payloadTooLarge } from './nats-errors.js';
import { ServiceStats } from './service-stats.js';
import { TickBatch } from './tick-batch.js';
import { SrvResponder } from './srv-responder.js';
import type { ServedService } from './served-services.js';
import type { ConnectionPool, SharedConnection } from './shared-connection.js';
import { checkToken, Subjects } from './subjects.js';

interface InFlight {
  readonly id: number;
  readonly reply: string;
  readonly service: string;
  readonly method: string;
  readonly started: number;
  call: Cancellable | undefined;
}

export interface ListenerHooks {
  /** Runs first in drain(): e.g. deregister from the KV registry. */
  beforeDrain?: () => Promise<void>;
  /** Runs in close(), before the connection is released. */
  onClose?: () => Promise<void>;
}

/**
 * The server side: one instance of every service it serves. Per service it subscribes the queue
 * group `svc.rpc.<Service>.*` (load shared with the other instances) and `svc.cancel.<Service>`;
 * per listener `svc.inst.<id>.>` for calls addressed to this instance. drain() unsubscribes the call
 * subjects first (new calls go to other instances, or fail with no responders), then waits for the
 * calls in flight to reply.
 */
interface OutboundReply {
  readonly reply: string;
  readonly body: Uint8Array;
  readonly headers: MsgHdrs | undefined;
}

export class NatsListener implements Listener, ReplyTarget {
  readonly address: string;
  readonly instance: string;
  readonly services: readonly ServedService[];
  readonly stats = new Map<string, ServiceStats>();
  hooks: ListenerHooks = {};
  private readonly nc: NatsConnection;
  private readonly shared: SharedConnection;
  private readonly pool: ConnectionPool;
  private readonly dispatcher: Dispatcher;
  private readonly subjects: Subjects;
  private readonly callSubs: Subscription[] = [];
  private readonly cancelSubs: Subscription[] = [];
  private readonly inflight = new CallTable<number, InFlight>();
  private readonly outbound = new TickBatch<OutboundReply>((batch) => this.publishBatch(batch));
  private readonly byReply = new CallTable<string, number>();
  private srv: SrvResponder | undefined;
  private nextId = 1;
  private idle: (() => void) | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;

  constructor(target: NatsAddress, shared: SharedConnection, nc: NatsConnection, pool: ConnectionPool, dispatcher: Dispatcher, subjects: Subjects, services: readonly ServedService[]) {
    this.instance = target.instance ?? nuid.next();
    checkToken('instance id', this.instance);
    this.address = formatAddress(target.servers, this.instance);
    this.shared = shared;
    this.nc = nc;
    this.pool = pool;
    this.dispatcher = dispatcher;
    this.subjects = subjects;
    this.services = services;
  }

  /** Subscribes everything and waits until the NATS server has the subscriptions. */
  async start(): Promise<void> {
    const { nc, subjects } = this;
    for (const service of this.services) {
      this.stats.set(service.name, new ServiceStats());
      const onCall = (_e: unknown, msg: Msg): void => this.onCall(service.name, Subjects.methodOf(msg.subject), msg);
      this.callSubs.push(nc.subscribe(subjects.serviceCalls(service.name), { queue: subjects.queue(service.name), callback: onCall }));
      this.cancelSubs.push(nc.subscribe(subjects.cancel(service.name), { callback: (_e, msg) => this.onCancel(msg) }));
    }
    this.callSubs.push(
      nc.subscribe(subjects.instanceCalls(this.instance), {
        callback: (_e, msg) => {
          const { service, method } = subjects.parseInstanceCall(this.instance, msg.subject);
          this.onCall(service, method, msg);
        },
      }),
    );
    this.srv = new SrvResponder(
      nc,
      this.instance,
      this.services.map((s) => ({
        name: s.name,
        version: s.version,
        description: s.description,
        metadata: { 'svc.address': this.address, 'svc.instance': this.instance },
        endpoints: s.methods.map((m) => ({ name: m, subject: subjects.call(s.name, m), queue_group: subjects.queue(s.name) })),
        stats: this.stats.get(s.name)!,
      })),
    );
    await nc.flush();
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  private onCall(service: string, method: string, msg: Msg): void {
    if (!msg.reply || this.closed) return; // a publish without a reply subject has no one to answer
    const id = this.nextId++;
    if (this.nextId > 0x7fffffff) this.nextId = 1;
    const entry: InFlight = { id, reply: msg.reply, service, method, started: performance.now(), call: undefined };
    this.inflight.set(id, entry);
    this.byReply.set(msg.reply, id);
    let request;
    try {
      request = decodeRequest(id, service, method, msg.headers, msg.data);
    } catch (error) {
      this.reply(id, errorResponse(CODE_NUMBERS.INVALID_ARGUMENT, `the call headers do not parse (${(error as Error).message})`));
      return;
    }
    const call = this.dispatcher.dispatch(request, this);
    if (this.inflight.get(id) === entry) entry.call = call;
  }

  private onCancel(msg: Msg): void {
    const id = this.byReply.get(msg.string());
    if (id === undefined) return;
    const entry = this.inflight.get(id)!;
    this.forget(id, entry);
    entry.call?.cancel();
  }

  reply(id: number, response: ResponseMessage): void {
    const entry = this.inflight.get(id);
    if (entry === undefined) return;
    this.forget(id, entry);
    const max = this.nc.info?.max_payload ?? Infinity;
    if (response.body.length > max) {
      const error = payloadTooLarge(response.body.length, max);
      response = errorResponse(error.codeNumber, error.message);
    }
    const failed = response.status === 0 ? undefined : `${codeFromNumber(response.status)}: ${response.message ?? ''}`;
    this.stats.get(entry.service)?.record(entry.method, performance.now() - entry.started, failed);
    this.outbound.add({ reply: entry.reply, body: response.body, headers: responseHeaders(response) });
  }

  /** Publishes the replies of one tick together (see TickBatch). */
  private publishBatch(batch: OutboundReply[]): void {
    for (const r of batch) {
      try {
        this.nc.publish(r.reply, r.body, { headers: r.headers });
      } catch {
        // The connection closed under us: the caller sees connection lost or its deadline.
      }
    }
    this.checkIdle();
  }

  private forget(id: number, entry: InFlight): void {
    this.inflight.delete(id);
    this.byReply.delete(entry.reply);
    this.checkIdle();
  }

  /** Idle means no call in flight and no reply still waiting in the batch to be published. */
  private checkIdle(): void {
    if (this.inflight.size === 0 && !this.outbound.holding) this.idle?.();
  }

  drain(): Promise<void> {
    this.draining ??= this.doDrain();
    return this.draining;
  }

  private async doDrain(): Promise<void> {
    await this.hooks.beforeDrain?.().catch(() => {});
    this.srv?.stop();
    if (!this.nc.isClosed()) await Promise.all(this.callSubs.map((s) => s.drain().catch(() => {})));
    if (this.inflight.size > 0 || this.outbound.holding) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.srv?.stop();
    await this.hooks.onClose?.().catch(() => {});
    for (const sub of [...this.callSubs, ...this.cancelSubs]) if (!sub.isClosed()) sub.unsubscribe();
    // Calls still in flight will never be answered from here: their callers time out or see the
    // connection go. (Server.close() answers them with UNAVAILABLE before it closes listeners.)
    for (const entry of this.inflight.values()) {
      this.forget(entry.id, entry);
      entry.call?.cancel();
    }
    this.idle?.();
    await this.pool.release(this.shared);
  }
}

function errorResponse(status: number, message: string): ResponseMessage {
  return { status, message, metadata: undefined, codec: 'json', compression: Compression.NONE, body: new Uint8Array(0) };
}
