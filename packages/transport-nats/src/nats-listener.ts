import { ErrorCode, nuid, type Msg, type MsgHdrs, type NatsConnection, type NatsError, type Subscription } from 'nats';
import { CallTable, deadlineFrom, errors, FrameDecoder, FrameKind, TickBatch, WireProgress, type Frame, type FrameDecoderOptions, type Cancellable, type Dispatcher, type Listener, type MetadataLimits, type Peer, type ReplyTarget, type RequestMessage, type ResponseMessage } from '@svc/core/transport';
import { codeFromNumber, RpcError } from '@svc/core';
import { formatAddress, type NatsAddress } from './address.js';
import { decodeRequest, nonStringKey, responseHeaders } from './call-headers.js';
import { payloadTooLarge, streamListenerClosed, tooManyCallsInFlight, tooManyCallsInMessage, undecodableCallHeaders, undecodableFrames } from './nats-errors.js';
import { ServiceStats } from './service-stats.js';
import { FrameBatch } from './frame-batch.js';
import { errorAnswer, errorResponse, fittingAnswer, writeAnswerFrame, type AnswerFrame } from './answer-frame.js';
import { HeldAnswers } from './held-answers.js';
import { isInboxSubject, mayPublishToInboxes } from './inbox-permission.js';
import { SrvResponder } from './srv-responder.js';
import type { ServedService } from './served-services.js';
import type { ConnectionPool, Refusal, SharedConnection } from './shared-connection.js';
import { checkToken, FRAMES_TOKEN, STREAM_TOKEN, Subjects } from './subjects.js';
import { ServerStreams, type StreamLimits } from './server-streams.js';

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

/** What a listener allows a peer (nats() options; docs/transport-nats.md, "Limits"). */
export interface ListenerLimits {
  /** Most frames a listener answers in one NATS message: the client's callsPerMessage. */
  readonly callsPerMessage: number;
  /** Calls in flight on the listener beyond which a call is answered RESOURCE_EXHAUSTED, unrun. */
  readonly maxConcurrentCalls: number;
  /** Framed calls one message may carry; a message with more is refused whole (RESOURCE_EXHAUSTED). */
  readonly maxCallsPerMessage: number;
  readonly metadata: MetadataLimits;
  readonly streams: StreamLimits;
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
  /** How far the call got (WireProgress), for the error that replaces a reply too large to publish. */
  readonly progress: number;
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
  /** The later messages of open streams: kept while draining, so that they can finish. */
  private streamSub: Subscription | undefined;
  /** Streams open on this listener (server-streams.ts); they count as calls in flight. */
  private readonly streams: ServerStreams;
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
  /** The caller tables kept before addCaller() sweeps the empty ones: a flood of inboxes stays bounded. */
  private callerSweepAt = MIN_CALLERS_BEFORE_SWEEP;
  private readonly limits: ListenerLimits;
  private readonly decoderOptions: FrameDecoderOptions;
  /** One decoder for every message: each message is whole, so it ends empty unless a message was bad. */
  private decoder: FrameDecoder;
  /** The answer to a plain request beyond maxConcurrentCalls, made once. */
  private busyHeaders: MsgHdrs | undefined;
  private readonly framedOut: FrameBatch<AnswerFrame>;
  private srv: SrvResponder | undefined;
  /**
   * Answer the framed calls of a message together, in one reply (HeldAnswers), because this
   * NATS user may only answer what it receives; decided at start, and again on a refused reply.
   */
  private holdAnswers = false;
  private unwatchRefusals: (() => void) | undefined;
  private unwatchConnection: (() => void) | undefined;
  /**
   * Answers made while the connection is down, published once it is back: nats.js drops what it
   * is given at the wrong moment of a reconnect (each dial starts an empty buffer), unseen. At
   * most one per call that was in flight when it dropped.
   */
  private heldReplies: OutboundReply[] = [];
  private reportedUnanswerable = false;
  private nextId = 1;
  private idle: (() => void) | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;

  constructor(target: NatsAddress, shared: SharedConnection, nc: NatsConnection, pool: ConnectionPool, dispatcher: Dispatcher, subjects: Subjects, services: readonly ServedService[], limits: ListenerLimits) {
    this.limits = limits;
    // A message is never larger than the NATS server's max_payload: frames need no limit of their own.
    this.decoderOptions = { maxFrameSize: Number.MAX_SAFE_INTEGER, ...limits.metadata };
    this.decoder = new FrameDecoder(this.decoderOptions);
    this.framedOut = new FrameBatch<AnswerFrame>({
      send: (reply, _frames, payload) => this.publishFrames(reply, payload),
      write: writeAnswerFrame,
      maxFrames: limits.callsPerMessage,
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
    this.streams = new ServerStreams(
      {
        address: this.address,
        instance: this.instance,
        nc,
        dispatcher,
        callsInFlight: () => this.inflight.size,
        maxConcurrentCalls: limits.maxConcurrentCalls,
        metadataLimits: limits.metadata,
        mayPublishToInboxes: () => !this.holdAnswers,
        streamEnded: () => this.checkIdle(),
      },
      subjects,
      limits.streams,
    );
  }

  /** Subscribes everything and waits until the NATS server has the subscriptions. */
  async start(): Promise<void> {
    const { nc, subjects } = this;
    for (const service of this.services) {
      this.stats.set(service.name, new ServiceStats(service.methods));
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
    this.streamSub = nc.subscribe(subjects.instanceStreams(this.instance), { callback: (_e, msg) => this.streams.receive(Subjects.methodOf(msg.subject), msg) });
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
        `${this.address}: this NATS user may only answer the messages it receives (allow_responses), not publish to callers' inboxes (_INBOX.>), so the calls that arrive in one message are answered together, when the slowest of them is done, and streams are refused (streamsNeedInboxPermission); allow it to publish to _INBOX.> to answer each call as soon as it is done, and to stream`,
      );
    }
    this.unwatchRefusals = this.shared.onRefusal((refusal) => this.refused(refusal));
    this.unwatchConnection = this.shared.on((event) => {
      if (event === 'up') this.publishHeld();
      else if (event === 'down') this.streams.loseAll(errors.connectionLost(this.address, 'the connection to NATS dropped'));
      else if (event === 'closed') {
        this.streams.loseAll(errors.connectionLost(this.address, 'the NATS connection closed'));
        // Gone for good: nothing held can be sent any more (a drain need not wait for it).
        this.heldReplies = [];
        this.checkIdle();
      }
    });
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

  /** @internal Streams open now, for tests. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** @internal Bytes of incomplete stream frames held now, for tests. */
  get streamBufferedBytes(): number {
    return this.streams.bufferedBytes;
  }

  /** @internal Callers (inboxes) whose table of calls is kept, for tests. */
  get callerCount(): number {
    return this.callerInboxes.length;
  }

  private newId(): number {
    const id = this.nextId;
    this.nextId = id === 0x7fffffff ? 1 : id + 1;
    return id;
  }

  private onCall(service: string, method: string, msg: Msg): void {
    if (!msg.reply || this.closed) return; // a publish without a reply subject has no one to answer
    if (method === FRAMES_TOKEN) return this.onFrames(msg.reply, msg);
    if (method === STREAM_TOKEN) return this.streams.open(msg);
    if (this.inflight.size + this.streams.size >= this.limits.maxConcurrentCalls) return this.refuseBusy(service, method, msg.reply);
    const id = this.newId();
    const entry: InFlight = { id, reply: msg.reply, service, method, started: performance.now(), call: undefined, callerInbox: undefined, callerId: 0, held: undefined };
    this.inflight.set(id, entry);
    this.byReply.set(msg.reply, id);
    let request: RequestMessage;
    try {
      request = decodeRequest(id, service, method, msg.headers, msg.data, this.limits.metadata);
    } catch (error) {
      // Headers that do not parse, metadata over the caps: answered here, never dispatched.
      const refusal = RpcError.is(error) ? error : undecodableCallHeaders((error as Error)?.message ?? String(error));
      this.reply(id, errorResponse(refusal, WireProgress.REFUSED));
      return;
    }
    // A plain request has no caller table: its reply subject (unique per request, nats.js and
    // the NATS CLI make it `<inbox prefix>.<token>…`) is what names the caller.
    request.peer = { transport: 'nats', address: msg.reply };
    const call = this.dispatcher.dispatch(request, this);
    if (this.inflight.get(id) === entry) entry.call = call;
  }

  /** A plain request beyond maxConcurrentCalls: answered at once, never dispatched. */
  private refuseBusy(service: string, method: string, reply: string): void {
    const error = tooManyCallsInFlight(this.limits.maxConcurrentCalls);
    this.stats.get(service)?.record(method, 0, `${error.code}: ${error.message}`);
    this.busyHeaders ??= responseHeaders(errorResponse(error, WireProgress.REFUSED));
    this.outbound.add({ reply, body: EMPTY, headers: this.busyHeaders, progress: WireProgress.REFUSED });
  }

  /**
   * A message of framed calls from an @svc client: each frame is dispatched as a call of its own,
   * and answered with a frame to the message's reply subject (`<inbox>.<message id>`).
   */
  private onFrames(reply: string, msg: Msg): void {
    const inbox = reply.slice(0, reply.lastIndexOf('.'));
    let caller = this.byCaller.get(inbox);
    // Every frame is decoded and checked before any call is dispatched: a message with a
    // violation anywhere in it (or more calls than maxCallsPerMessage) is refused as a whole, and
    // none of its calls runs, those before the violation included.
    const frames: Frame[] = [];
    const limit = this.limits.maxCallsPerMessage;
    let refusal: RpcError | undefined;
    const decoder = this.decoder;
    try {
      decoder.push(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.length), (frame) => {
        const violation = requestViolation(frame);
        if (violation !== undefined) refusal = undecodableFrames(violation);
        else if (frames.push(frame) > limit) refusal = tooManyCallsInMessage(limit);
        else return;
        decoder.close(); // nothing after it is parsed
      });
      if (refusal === undefined && decoder.pendingBytes > 0) refusal = undecodableFrames('the message ends inside a frame');
    } catch (error) {
      refusal = undecodableFrames(reasonOf(error));
    }
    if (decoder.isClosed || decoder.pendingBytes > 0) this.decoder = new FrameDecoder(this.decoderOptions);
    if (refusal !== undefined) {
      // None of the message's calls runs: refused, all of them.
      this.outbound.add({ reply, body: EMPTY, headers: responseHeaders(errorResponse(refusal, WireProgress.REFUSED)), progress: WireProgress.REFUSED });
      return;
    }
    const now = Date.now();
    // Who calls: the caller's inbox, one per @svc client channel (the reply subject without the
    // message id); one object for the calls of the message.
    const peer: Peer = { transport: 'nats', address: inbox };
    const held = this.holdAnswers ? new HeldAnswers(reply, (to, payload) => this.publishFrames(to, payload), () => this.maxPayload()) : undefined;
    // Streams count as calls in flight.
    const maxInFlight = this.limits.maxConcurrentCalls - this.streams.size;
    for (const frame of frames) {
      if (this.inflight.size >= maxInFlight) {
        this.refuseBusyFrame(reply, frame, held);
        continue;
      }
      if (caller === undefined) caller = this.addCaller(inbox);
      const id = this.newId();
      held?.expect();
      const entry: InFlight = { id, reply, service: frame.service, method: frame.method, started: performance.now(), call: undefined, callerInbox: inbox, callerId: frame.id, held };
      this.inflight.set(id, entry);
      caller.set(frame.id, id);
      // The frame is the request message: the listener's id, a default codec and the deadline are added.
      frame.id = id;
      if (!frame.codec) frame.codec = 'json';
      frame.deadline = deadlineFrom(frame.timeoutMs, now);
      frame.peer = peer;
      const call = this.dispatcher.dispatch(frame, this);
      if (this.inflight.get(id) === entry) entry.call = call;
    }
    held?.done();
  }

  /** A framed call beyond maxConcurrentCalls: answered at once, never dispatched. */
  private refuseBusyFrame(reply: string, frame: Frame, held: HeldAnswers | undefined): void {
    const error = tooManyCallsInFlight(this.limits.maxConcurrentCalls);
    this.stats.get(frame.service)?.record(frame.method, 0, `${error.code}: ${error.message}`);
    const answer = errorAnswer(frame.id, error, WireProgress.REFUSED);
    if (held === undefined) return this.framedOut.add(reply, answer);
    held.expect();
    held.answer(answer);
    held.done();
  }

  private maxPayload(): number {
    return this.nc.info?.max_payload ?? Infinity;
  }

  private addCaller(inbox: string): CallTable<number, number> {
    if (this.callerInboxes.length >= this.callerSweepAt) {
      this.sweepCallers();
      // Those left have calls in flight (at most maxConcurrentCalls); sweeping again only once as
      // many more have come keeps this O(1) a caller.
      this.callerSweepAt = Math.max(MIN_CALLERS_BEFORE_SWEEP, 2 * this.callerInboxes.length);
    }
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
    // An answer replaced here says what the original said of the call's progress (processed when
    // a handler ran, refused when @svc's Server answered before it).
    const progress = response.progress ?? WireProgress.PROCESSED;
    if (response.body.length > max) {
      response = errorResponse(payloadTooLarge(response.body.length, max), progress);
    }
    if (response.metadata !== undefined) {
      // The wire carries strings only: a response with anything else is an error, never a success.
      const key = nonStringKey(response.metadata);
      if (key !== undefined) response = this.unanswerable(entry, errors.invalidMetadata('response', key, response.metadata[key]), progress);
    }
    // The answer is made before the call is forgotten: forget() may find the listener idle
    // (ending a drain), and a held answer's done() publishes those of its message.
    let headers: MsgHdrs | undefined;
    let answer: AnswerFrame | undefined;
    try {
      if (entry.callerInbox === undefined) headers = responseHeaders(response);
      else answer = fittingAnswer(entry.callerId, response, max);
    } catch (error) {
      response = this.unanswerable(entry, errors.unsendableMessage('response', error), progress);
      if (entry.callerInbox === undefined) headers = responseHeaders(response);
      else answer = fittingAnswer(entry.callerId, response, max);
    }
    const failed = response.status === 0 ? undefined : `${codeFromNumber(response.status)}: ${response.message ?? ''}`;
    this.stats.get(entry.service)?.record(entry.method, performance.now() - entry.started, failed);
    if (answer === undefined) this.outbound.add({ reply: entry.reply, body: response.body, headers, progress });
    else if (entry.held !== undefined) entry.held.answer(answer);
    else this.framedOut.add(entry.reply, answer);
    this.forget(id, entry);
  }

  /**
   * The error that goes instead of a response that cannot be sent; logged, as it is a bug.
   * (@svc's Server checks responses before they get here; this guards any other dispatcher.)
   */
  private unanswerable(entry: InFlight, error: RpcError, progress: number): ResponseMessage {
    this.dispatcher.logger?.error(`${entry.service}.${entry.method}: ${error.message}`);
    return errorResponse(error, progress);
  }

  /** Publishes one NATS message of answer frames (see FrameBatch). */
  private publishFrames(reply: string, payload: Uint8Array): void {
    if (!this.shared.connected) this.heldReplies.push({ reply, body: payload, headers: undefined, progress: WireProgress.PROCESSED });
    else {
      try {
        this.nc.publish(reply, payload);
      } catch {
        // The connection closed under us: the caller sees connection lost or its deadline.
      }
    }
    this.checkIdle();
  }

  /** Back up: the answers held while it was down go out, in the order they were made. */
  private publishHeld(): void {
    const held = this.heldReplies;
    this.heldReplies = [];
    if (held.length > 0) this.publishBatch(held);
  }

  /** Publishes the replies of one tick together (see TickBatch). */
  private publishBatch(batch: OutboundReply[]): void {
    for (const r of batch) {
      if (!this.shared.connected) {
        this.heldReplies.push(r);
        continue;
      }
      try {
        this.nc.publish(r.reply, r.body, { headers: r.headers });
      } catch (error) {
        // The body fitted, but not with its headers (metadata, an error's message): say so.
        if ((error as NatsError).code === ErrorCode.MaxPayloadExceeded) this.publishTooLarge(r);
        // Else the connection closed under us: the caller sees connection lost or its deadline.
      }
    }
    this.checkIdle();
  }

  private publishTooLarge(r: OutboundReply): void {
    let size = r.body.length;
    for (const [key, values] of r.headers ?? []) for (const value of values) size += key.length + value.length + 4;
    const error = payloadTooLarge(size, this.maxPayload());
    try {
      this.nc.publish(r.reply, EMPTY, { headers: responseHeaders(errorResponse(error, r.progress)) });
    } catch {
      // The connection closed under us.
    }
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

  /** Idle means no call or stream in flight and no reply still waiting to be published (in a batch, or for a reconnect). */
  private checkIdle(): void {
    if (this.inflight.size === 0 && this.streams.size === 0 && !this.outbound.holding && !this.framedOut.holding && this.heldReplies.length === 0) this.idle?.();
  }

  drain(): Promise<void> {
    this.draining ??= this.doDrain();
    return this.draining;
  }

  private async doDrain(): Promise<void> {
    await this.hooks.beforeDrain?.().catch(() => {});
    this.srv?.stop();
    if (!this.nc.isClosed()) await Promise.all(this.callSubs.map((s) => s.drain().catch(() => {})));
    // Open streams finish on their own subject, which stays subscribed until close().
    if (this.inflight.size > 0 || this.streams.size > 0 || this.outbound.holding || this.framedOut.holding || this.heldReplies.length > 0) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  async close(): Promise<void> {
    clearInterval(this.callerSweep);
    this.callerSweep = undefined;
    this.unwatchRefusals?.();
    this.unwatchConnection?.();
    this.heldReplies = [];
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
    // Streams still open end with UNAVAILABLE; their ENDs are handed to nats.js before the connection is released.
    this.streams.endAll(streamListenerClosed());
    if (this.streamSub !== undefined && !this.streamSub.isClosed()) this.streamSub.unsubscribe();
    this.idle?.();
    await this.pool.release(this.shared);
  }
}

const EMPTY = new Uint8Array(0);
const CALLER_SWEEP_MS = 30_000;
const MIN_CALLERS_BEFORE_SWEEP = 1024;

/** What went wrong, without the 'protocol error: ' the message it goes into says in its own words. */
function reasonOf(error: unknown): string {
  return ((error as Error)?.message ?? String(error)).replace(/^protocol error: /, '');
}

/** Why a frame cannot be a framed call, or undefined when it can. */
function requestViolation(frame: Frame): string | undefined {
  if (frame.kind !== FrameKind.REQUEST) return `a frame of kind ${frame.kind} among calls, where only requests (kind 1) may be`;
  // The answer carries the id back as it came: one that does not fit in 32 bits would come back as another.
  if (frame.id < 1 || frame.id > 0xffffffff) return `request id ${frame.id} is not between 1 and 2^32 - 1`;
  if (!frame.service || !frame.method) return 'a request without a service or method name';
  return undefined;
}

