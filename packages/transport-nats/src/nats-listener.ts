import { nuid, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { CallTable, errors, FrameDecoder, FrameKind, type Frame, type Cancellable, type Dispatcher, type Listener, type ReplyTarget, type ResponseMessage } from '@svc/core/transport';
import { CODE_NUMBERS, codeFromNumber, type RpcError } from '@svc/core';
import { formatAddress, type NatsAddress } from './address.js';
import { decodeRequest, responseHeaders } from './call-headers.js';
import { payloadTooLarge } from './nats-errors.js';
import { ServiceStats } from './service-stats.js';
import { TickBatch } from './tick-batch.js';
import { FrameBatch } from './frame-batch.js';
import { errorResponse, fittingAnswer, writeAnswerFrame, type AnswerFrame } from './answer-frame.js';
import { HeldAnswers } from './held-answers.js';
import { isInboxSubject, mayPublishToInboxes } from './inbox-permission.js';
import { SrvResponder } from './srv-responder.js';
import type { ServedService } from './served-services.js';
import type { ConnectionPool, Refusal, SharedConnection } from './shared-connection.js';
import { checkToken, FRAMES_TOKEN, Subjects } from './subjects.js';

interface InFlight {
  readonly id: number;
  readonly reply: string;
  readonly service: string;
  readonly method: string;
  readonly started: number;
  call: Cancellable | undefined;
  /** A framed call: the caller's inbox and its id for the call (0 and undefined for a plain request). */
  readonly callerInbox: string | undefined;
  readonly callerId: number;
  /** Where its answer waits for the other calls of its message, when answers are held (see HeldAnswers). */
  readonly held: HeldAnswers | undefined;
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
  /**
   * Framed calls by caller inbox, then by the caller's id: what a cancel names. A caller's table
   * outlives its calls (a busy caller empties and refills it all the time); tables left empty
   * are dropped by a sweep every CALLER_SWEEP_MS.
   */
  private readonly byCaller = new CallTable<string, CallTable<number, number>>();
  private readonly callerInboxes: string[] = [];
  private callerSweep: NodeJS.Timeout | undefined;
  private readonly framedOut: FrameBatch<AnswerFrame>;
  private srv: SrvResponder | undefined;
  /**
   * Answer the framed calls of a message together, in one reply (HeldAnswers), because this
   * NATS user may only answer what it receives; decided at start, and again on a refused reply.
   */
  private holdAnswers = false;
  private unwatchRefusals: (() => void) | undefined;
  private reportedUnanswerable = false;
  private nextId = 1;
  private idle: (() => void) | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;

  constructor(target: NatsAddress, shared: SharedConnection, nc: NatsConnection, pool: ConnectionPool, dispatcher: Dispatcher, subjects: Subjects, services: readonly ServedService[], callsPerMessage: number) {
    this.framedOut = new FrameBatch<AnswerFrame>({
      send: (reply, _frames, payload) => this.publishFrames(reply, payload),
      write: writeAnswerFrame,
      maxFrames: callsPerMessage,
      maxBytes: () => this.maxPayload(),
    });
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
    this.holdAnswers = !(await mayPublishToInboxes(this.shared, nc));
    if (this.holdAnswers) {
      this.dispatcher.logger?.info(
        `${this.address}: this NATS user may only answer the messages it receives (allow_responses), not publish to callers' inboxes (_INBOX.>), so the calls that arrive in one message are answered together, when the slowest of them is done; allow it to publish to _INBOX.> to answer each call as soon as it is done`,
      );
    }
    this.unwatchRefusals = this.shared.onRefusal((refusal) => this.refused(refusal));
  }

  /** The NATS server refused a publish: if an answer, hold answers from now on, or say that even that is refused. */
  private refused(refusal: Refusal): void {
    if (refusal.operation !== 'publish' || !isInboxSubject(refusal.subject)) return;
    if (!this.holdAnswers) {
      this.holdAnswers = true;
      this.dispatcher.logger?.warn(
        `${this.address}: the NATS server refused an answer to ${refusal.subject} (permissions violation); from now on the calls that arrive in one message are answered together, in one reply, and the calls whose answers were refused run into their deadlines. Allow this NATS user to publish to _INBOX.> to answer each call as soon as it is done`,
      );
    } else if (!this.reportedUnanswerable) {
      this.reportedUnanswerable = true;
      this.dispatcher.logger?.error(
        `${this.address}: the NATS server refused an answer to ${refusal.subject} although this service sends one reply per message: its NATS user may not answer at all (or its allow_responses expired before a slow call was done), so calls run into their deadlines. Give it allow_responses, or permission to publish to _INBOX.>`,
      );
    }
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  private newId(): number {
    const id = this.nextId;
    this.nextId = id === 0x7fffffff ? 1 : id + 1;
    return id;
  }

  private onCall(service: string, method: string, msg: Msg): void {
    if (!msg.reply || this.closed) return; // a publish without a reply subject has no one to answer
    if (method === FRAMES_TOKEN) return this.onFrames(msg.reply, msg);
    const id = this.newId();
    const entry: InFlight = { id, reply: msg.reply, service, method, started: performance.now(), call: undefined, callerInbox: undefined, callerId: 0, held: undefined };
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

  /**
   * A message of framed calls from an @svc client: each frame is dispatched as a call of its own,
   * and answered with a frame to the message's reply subject (`<inbox>.<message id>`).
   */
  private onFrames(reply: string, msg: Msg): void {
    const inbox = reply.slice(0, reply.lastIndexOf('.'));
    let caller = this.byCaller.get(inbox);
    const frames: Frame[] = [];
    try {
      const decoder = new FrameDecoder({ maxFrameSize: Number.MAX_SAFE_INTEGER });
      decoder.push(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.length), (frame) => frames.push(frame));
      if (decoder.pendingBytes > 0) throw errors.protocolError('the message ends inside a frame');
    } catch (error) {
      const e = error as RpcError;
      this.outbound.add({ reply, body: EMPTY, headers: responseHeaders(errorResponse(CODE_NUMBERS.INVALID_ARGUMENT, `the message of framed calls does not parse: ${e.message}`)) });
      return;
    }
    const now = Date.now();
    const held = this.holdAnswers ? new HeldAnswers(reply, (to, payload) => this.publishFrames(to, payload), () => this.maxPayload()) : undefined;
    for (const frame of frames) {
      if (frame.kind !== FrameKind.REQUEST || !frame.id) continue;
      if (caller === undefined) caller = this.addCaller(inbox);
      const id = this.newId();
      held?.expect();
      const entry: InFlight = { id, reply, service: frame.service, method: frame.method, started: performance.now(), call: undefined, callerInbox: inbox, callerId: frame.id, held };
      this.inflight.set(id, entry);
      caller.set(frame.id, id);
      // The frame is the request message: the listener's id, a default codec and the deadline are added.
      frame.id = id;
      if (!frame.codec) frame.codec = 'json';
      if (frame.timeoutMs) frame.deadline = now + frame.timeoutMs;
      const call = this.dispatcher.dispatch(frame, this);
      if (this.inflight.get(id) === entry) entry.call = call;
    }
    held?.done();
  }

  private maxPayload(): number {
    return this.nc.info?.max_payload ?? Infinity;
  }

  private addCaller(inbox: string): CallTable<number, number> {
    const caller = new CallTable<number, number>();
    this.byCaller.set(inbox, caller);
    this.callerInboxes.push(inbox);
    this.callerSweep ??= setInterval(() => this.sweepCallers(), CALLER_SWEEP_MS).unref();
    return caller;
  }

  /** Drops the tables of callers with no call in flight; stops when none is left. */
  private sweepCallers(): void {
    const kept: string[] = [];
    for (const inbox of this.callerInboxes) {
      if (this.byCaller.get(inbox)!.size > 0) kept.push(inbox);
      else this.byCaller.delete(inbox);
    }
    this.callerInboxes.length = 0;
    this.callerInboxes.push(...kept);
    if (kept.length === 0) {
      clearInterval(this.callerSweep);
      this.callerSweep = undefined;
    }
  }

  private onCancel(msg: Msg): void {
    const text = msg.string();
    const space = text.indexOf(' ');
    // `<inbox> <id>` for a framed call, the reply subject for a plain request.
    const id = space < 0 ? this.byReply.get(text) : this.byCaller.get(text.slice(0, space))?.get(Number(text.slice(space + 1)));
    if (id === undefined) return;
    const entry = this.inflight.get(id)!;
    this.forget(id, entry);
    entry.call?.cancel();
  }

  reply(id: number, response: ResponseMessage): void {
    const entry = this.inflight.get(id);
    if (entry === undefined) return;
    const max = this.maxPayload();
    if (response.body.length > max) {
      const error = payloadTooLarge(response.body.length, max);
      response = errorResponse(error.codeNumber, error.message);
    }
    const failed = response.status === 0 ? undefined : `${codeFromNumber(response.status)}: ${response.message ?? ''}`;
    this.stats.get(entry.service)?.record(entry.method, performance.now() - entry.started, failed);
    // The answer is queued before the call is forgotten: forget() may find the listener idle
    // (ending a drain), and a held answer's done() publishes those of its message.
    if (entry.callerInbox === undefined) {
      this.outbound.add({ reply: entry.reply, body: response.body, headers: responseHeaders(response) });
    } else {
      const answer = fittingAnswer(entry.callerId, response, max);
      if (entry.held !== undefined) entry.held.answer(answer);
      else this.framedOut.add(entry.reply, answer);
    }
    this.forget(id, entry);
  }

  /** Publishes one NATS message of answer frames (see FrameBatch). */
  private publishFrames(reply: string, payload: Uint8Array): void {
    try {
      this.nc.publish(reply, payload);
    } catch {
      // The connection closed under us: the caller sees connection lost or its deadline.
    }
    this.checkIdle();
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
    const inbox = entry.callerInbox;
    if (inbox === undefined) this.byReply.delete(entry.reply);
    else {
      const caller = this.byCaller.get(inbox);
      // Only this call's own entry: a caller reusing an id while the first call runs replaced it.
      if (caller !== undefined && caller.get(entry.callerId) === id) caller.delete(entry.callerId);
    }
    entry.held?.done();
    this.checkIdle();
  }

  /** Idle means no call in flight and no reply still waiting in the batch to be published. */
  private checkIdle(): void {
    if (this.inflight.size === 0 && !this.outbound.holding && !this.framedOut.holding) this.idle?.();
  }

  drain(): Promise<void> {
    this.draining ??= this.doDrain();
    return this.draining;
  }

  private async doDrain(): Promise<void> {
    await this.hooks.beforeDrain?.().catch(() => {});
    this.srv?.stop();
    if (!this.nc.isClosed()) await Promise.all(this.callSubs.map((s) => s.drain().catch(() => {})));
    if (this.inflight.size > 0 || this.outbound.holding || this.framedOut.holding) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  async close(): Promise<void> {
    clearInterval(this.callerSweep);
    this.callerSweep = undefined;
    this.unwatchRefusals?.();
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

const EMPTY = new Uint8Array(0);
const CALLER_SWEEP_MS = 30_000;
