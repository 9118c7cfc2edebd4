import { nuid, type Msg, type NatsConnection, type PublishOptions } from 'nats';
import type { RpcError } from '@svc/core';
import { CallTable, deadlineFrom, errors, type Dispatcher, type Frame, type MetadataLimits } from '@svc/core/transport';
import { errorAnswer, writeAnswerFrame } from './answer-frame.js';
import { streamsNeedInboxPermission, tooManyCallsInFlight, tooManyStreamsFromCaller, undecodableStreamOpen } from './nats-errors.js';
import { ServerStreamLink, type ServerStreamHost, type ServerStreamLimits } from './server-stream-link.js';
import { StreamBudget } from './stream-inbox.js';
import { StreamSweep, type StreamHeartbeat } from './stream-heartbeat.js';
import { SEQ_BYTES } from './stream-message.js';
import { callerOfStreamSubject, type Subjects } from './subjects.js';

/** A listener's limits for streams (nats() options; docs/transport-nats.md, "Streams"). */
export interface StreamLimits {
  readonly heartbeat: StreamHeartbeat;
  /** Streams one caller (a client channel's inbox) may have open on the listener. */
  readonly maxConcurrentStreams: number;
  /** Largest stream frame, sent or joined from NATS messages. */
  readonly maxFrameSize: number;
  /** Bytes of incomplete stream frames all streams of the listener hold together. */
  readonly maxBufferedBytes: number;
}

/** What the streams need of their listener. */
export interface ServerStreamsListener {
  readonly address: string;
  readonly instance: string;
  readonly nc: NatsConnection;
  readonly dispatcher: Dispatcher;
  /** Unary calls in flight: streams and calls share maxConcurrentCalls. */
  callsInFlight(): number;
  readonly maxConcurrentCalls: number;
  readonly metadataLimits: MetadataLimits;
  /** False when this NATS user may only answer what it receives (no stream can be served then). */
  mayPublishToInboxes(): boolean;
  /** A stream ended: the listener may be idle now (its drain waits for streams too). */
  streamEnded(): void;
}

/**
 * The streams a NatsListener serves: admission (the caller's and the listener's limits), the
 * links by stream id, the budget for incomplete frames and one heartbeat timer. Messages for a
 * stream id it does not have (ended, or made up) are dropped: answering them would let anyone
 * make the listener publish to a subject of their choosing.
 */
export class ServerStreams implements ServerStreamHost {
  readonly address: string;
  readonly heartbeatTimeout: number;
  private readonly listener: ServerStreamsListener;
  private readonly subjects: Subjects;
  private readonly limits: StreamLimits;
  private readonly linkLimits: ServerStreamLimits;
  private readonly links = new CallTable<string, ServerStreamLink>();
  /** Open streams per caller inbox; a caller leaves the table with its last stream. */
  private readonly callers = new CallTable<string, number>();
  private readonly sweep: StreamSweep;
  private readonly budget: StreamBudget;

  constructor(listener: ServerStreamsListener, subjects: Subjects, limits: StreamLimits) {
    this.listener = listener;
    this.address = listener.address;
    this.subjects = subjects;
    this.limits = limits;
    this.heartbeatTimeout = limits.heartbeat.timeout;
    this.budget = new StreamBudget(limits.maxBufferedBytes);
    this.linkLimits = { maxFrameSize: limits.maxFrameSize, metadata: listener.metadataLimits, budget: this.budget };
    this.sweep = new StreamSweep(limits.heartbeat, () => this.links.values());
  }

  get size(): number {
    return this.links.size;
  }

  /** Bytes of incomplete frames held for all streams now. */
  get bufferedBytes(): number {
    return this.budget.used;
  }

  /** A stream's first message (on `…$stream`), with the client's subject of the stream as its reply. */
  open(msg: Msg): void {
    const reply = msg.reply!;
    const data = msg.data;
    if (data.length < SEQ_BYTES || (data[0]! | data[1]! | data[2]! | data[3]!) !== 0) return this.answer(reply, 0, undecodableStreamOpen('it is not message 0 of a stream'));
    const streamId = nuid.next();
    const link = new ServerStreamLink(streamId, this.subjects.stream(this.listener.instance, streamId), reply, callerOfStreamSubject(reply), this.linkLimits, this);
    link.start(data);
  }

  /** A later message of a stream, on `svc.strm.<instance>.<stream id>`. */
  receive(streamId: string, msg: Msg): void {
    this.links.get(streamId)?.receive(msg);
  }

  /** The connection to NATS is gone: every stream is lost (nothing can be sent to say so). */
  loseAll(error: RpcError): void {
    for (const link of this.links.values()) link.lose(error);
  }

  /** The listener closes: every stream still open ends with `error`, its END handed to nats.js now. */
  endAll(error: RpcError): void {
    for (const link of this.links.values()) link.endWith(error);
    this.sweep.stop();
  }

  // ServerStreamHost and OutboxWire, for the links.

  admit(link: ServerStreamLink, request: Frame): void {
    const violation = requestViolation(request);
    if (violation !== undefined) return this.refuse(link, undecodableStreamOpen(violation));
    const { dispatcher } = this.listener;
    if (!this.listener.mayPublishToInboxes()) return this.refuse(link, streamsNeedInboxPermission());
    if (dispatcher.dispatchStream === undefined) return this.refuse(link, errors.streamsNotSupported(this.address).withProgress('refused'));
    const open = this.callers.get(link.caller) ?? 0;
    if (open >= this.limits.maxConcurrentStreams) return this.refuse(link, tooManyStreamsFromCaller(this.limits.maxConcurrentStreams));
    if (this.listener.callsInFlight() + this.links.size >= this.listener.maxConcurrentCalls) return this.refuse(link, tooManyCallsInFlight(this.listener.maxConcurrentCalls));
    this.callers.set(link.caller, open + 1);
    this.links.set(link.streamId, link);
    this.sweep.start();
    // The frame is the request message: a default codec, the deadline and the peer are added.
    if (!request.codec) request.codec = 'json';
    request.deadline = deadlineFrom(request.timeoutMs);
    request.peer = { transport: 'nats', address: link.caller };
    link.accept();
    link.receiver = dispatcher.dispatchStream(request, link.sender);
  }

  refuse(link: ServerStreamLink, error: RpcError): void {
    this.answer(link.clientSubject, link.clientId, error);
  }

  forget(link: ServerStreamLink): void {
    if (this.links.get(link.streamId) !== link) return;
    this.links.delete(link.streamId);
    const open = this.callers.get(link.caller)!;
    if (open > 1) this.callers.set(link.caller, open - 1);
    else this.callers.delete(link.caller);
    this.listener.streamEnded();
  }

  publish(subject: string, payload: Uint8Array, options: PublishOptions): void {
    this.listener.nc.publish(subject, payload, options);
  }

  maxPayload(): number {
    return this.listener.nc.info?.max_payload ?? Infinity;
  }

  /**
   * A stream that never opened is answered with a RESPONSE frame carrying the error, as message 0
   * of the stream, a reply to the message that asked (which even a user limited to answering may send).
   */
  private answer(reply: string, id: number, error: RpcError): void {
    const answer = errorAnswer(id >>> 0, error);
    const payload = Buffer.allocUnsafe(SEQ_BYTES + answer.frameBytes);
    payload.writeUInt32BE(0, 0);
    writeAnswerFrame(answer, payload, SEQ_BYTES);
    try {
      this.listener.nc.publish(reply, payload);
    } catch {
      // The connection closed under us: the client sees its connection go, or its heartbeat timeout.
    }
  }
}

/** Why a frame cannot open a stream, or undefined when it can (core checks the stream kind). */
function requestViolation(frame: Frame): string | undefined {
  if (frame.id < 1 || frame.id > 0xffffffff) return `stream id ${frame.id} is not between 1 and 2^32 - 1`;
  if (!frame.service || !frame.method) return 'a REQUEST without a service or method name';
  if (frame.stream === 0) return 'a REQUEST without a stream kind (a unary call goes to $frames)';
  return undefined;
}
