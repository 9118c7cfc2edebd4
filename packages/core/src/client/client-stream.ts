import type { Metadata } from '../metadata.js';
import { RpcError } from '../errors/rpc-error.js';
import * as errors from '../errors/framework-errors.js';
import { progressFromWire, retryableFromWire } from '../wire/header.js';
import { armDeadline, disarmDeadline, type DeadlineHandle, type DeadlineTarget } from '../deadline-timer.js';
import { StreamKind, type StreamEnd, type StreamReceiver, type StreamSender } from '../transport/transport.js';
import type { WindowBudget } from '../stream/window-budget.js';
import { InboundMessages, type InboundOwner } from '../stream/inbound-messages.js';
import { OutboundCredit } from '../stream/outbound-credit.js';
import type { CallSink, OutgoingCall } from './client-call.js';
import type { MethodState } from './method-state.js';
import type { ServiceNode } from './registry.js';
import type { Selector } from './selector.js';
import { pushbackOf, TransparentRetries } from './transparent-retry.js';
import type { Compressor } from '../codec/compression.js';
import { Compression } from '../wire/header.js';

/** The messages a client stream or bidirectional stream sends: any iterable, sync or async. */
export type StreamSource<T = unknown> = AsyncIterable<T> | Iterable<T>;

/** What a stream needs of its Client (client.ts). */
export interface StreamOwner {
  /** The client's compression, for the messages a stream sends. */
  readonly compressor: Compressor;
  /** The most a compressed message from the server may inflate to. */
  readonly maxDecompressedSize: number;
  /** What the client's streams may grow their receive windows by (window-budget.ts). */
  readonly windowBudget: WindowBudget;
  /** Opens `stream` on a node it has not tried (`stream.tried`), or ends it with `error` when there is none. */
  reopen(stream: ClientStream, error: RpcError): void;
}

/**
 * One stream on the client: what the call filters see (one call: `next()` settles when the stream
 * ends), the receiver of the server's frames, the queue the caller's `for await` reads (with the
 * credit it grants back), the caller's messages sent under the server's credit, the deadline over
 * the whole stream, and cancellation: leaving the loop early, the caller's signal, the parent.
 * It has no fail mode and no attempt filters; one that fails before the server's first frame
 * with a failure that says no handler ran is opened again elsewhere (a transparent retry, as a
 * call's; docs/architecture.md, Streams).
 */
export class ClientStream implements OutgoingCall, DeadlineTarget, StreamReceiver, InboundOwner {
  readonly side = 'client' as const;
  readonly service: string;
  readonly method: string;
  /** The request of a server stream; the caller's message iterable otherwise. */
  request: unknown;
  readonly metadata: Metadata;
  readonly deadline: number;
  readonly shape: StreamKind;
  readonly address: string | undefined;
  readonly state: MethodState;
  readonly createdAt: number;
  attemptCount = 0;
  observeAttempts = true;
  responseMetadata: Metadata | undefined = undefined;
  onMetadata: ((metadata: Metadata) => void) | undefined = undefined;
  /** The server's messages, as the caller reads them. */
  readonly inbound: InboundMessages;
  /** Where the filters' innermost next() is told how the stream ended (the inbound queue without filters). */
  sink: CallSink | undefined = undefined;
  sweptPrev: DeadlineTarget | undefined = undefined;
  sweptNext: DeadlineTarget | undefined = undefined;
  private readonly credit = new OutboundCredit();
  /** Addresses this stream was opened on, in order. */
  readonly tried: string[] = [];
  /** Opens so far (the number of the current one); an open that is not the current one is stale. */
  private opens = 0;
  /** A frame of the server's arrived: its handler runs, and the stream is never opened again. */
  private committed = false;
  /** Until committed: the messages sent (and whether END was), to send again on a retry. */
  private sentBodies: SentMessage[] | undefined = undefined;
  private endSent = false;
  private retries: TransparentRetries | undefined = undefined;
  private readonly owner: StreamOwner;
  private sender: StreamSender | undefined = undefined;
  private source: Iterator<unknown> | AsyncIterator<unknown> | undefined = undefined;
  /** Over on the wire: END, lost, or ended here. */
  private over = false;
  /** Why the stream was ended here, if it was. */
  abortReason: RpcError | undefined = undefined;
  private controller: AbortController | undefined = undefined;
  private timer: DeadlineHandle = undefined;
  private timed = false;
  private followed: AbortSignal[] | undefined = undefined;
  private onFollowedAbort: (() => void) | undefined = undefined;
  /** A selector that learns (`report`) and the node it picked: told once, when the stream is over. */
  private reporter: Selector | undefined = undefined;
  private node: ServiceNode | undefined = undefined;
  /** performance.now() when the stream was sent, and when the server's first frame came (0: none yet). */
  private sentAt = 0;
  private answeredAt = 0;

  constructor(shape: StreamKind, service: string, method: string, request: unknown, metadata: Metadata, deadline: number, address: string | undefined, now: number, state: MethodState, window: number, maxWindow: number | undefined, owner: StreamOwner) {
    this.shape = shape;
    this.owner = owner;
    this.service = service;
    this.method = method;
    this.request = request;
    this.metadata = metadata;
    this.deadline = deadline;
    this.address = address;
    this.createdAt = now;
    this.state = state;
    const decode = state.serializers.decodeResponse;
    const codec = state.codec;
    this.inbound = new InboundMessages(window, (bytes) => decodeResponse(decode, codec, bytes), this, owner.windowBudget, maxWindow);
  }

  get kind(): 'call' {
    return 'call';
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** True once the stream is over or was ended here (nothing more is sent). */
  get stopped(): boolean {
    return this.over;
  }

  startTimer(): void {
    this.timed = true;
    this.timer = armDeadline(this);
  }

  deadlineReached(): void {
    this.timed = false;
    this.abort(errors.deadlineExceeded(this.deadline - this.createdAt));
  }

  /** Ends the stream when `signal` aborts (the caller's, or the parent call's). */
  follow(signal: AbortSignal): void {
    if (signal.aborted) return this.abort(reasonOf(signal));
    this.onFollowedAbort ??= () => {
      const aborted = this.followed!.find((s) => s.aborted);
      if (aborted) this.abort(reasonOf(aborted));
    };
    (this.followed ??= []).push(signal);
    signal.addEventListener('abort', this.onFollowedAbort, { once: true });
  }

  /**
   * `selector` picked `node` for this stream and learns from outcomes: it is told once, when the
   * stream is over, so the stream counts as the node's load while it is open. The latency it hears
   * is the time to the server's first frame (a message, a WINDOW or the END), not the stream's
   * length: a long watch is not a slow node. One cancelled here before the server said anything
   * reports no latency (0): how long the caller waited says nothing of the node.
   */
  reportTo(selector: Selector, node: ServiceNode): void {
    this.reporter = selector;
    this.node = node;
    this.sentAt = performance.now();
    this.answeredAt = 0;
  }

  /** The Client is about to open the stream on `address`: the number to pass to opened(). */
  opening(address: string): number {
    this.tried.push(address);
    return ++this.opens;
  }

  /**
   * The transport opened the stream (open number `open`): grant the window beyond the initial
   * one, start sending; on a retry, send again what the stream sent before. An open overtaken by
   * a retry (its transport failed it while opening) is stale: its sender is let go.
   */
  opened(sender: StreamSender, open: number): void {
    if (open !== this.opens || this.over) return sender.cancel();
    this.sender = sender;
    this.attemptCount = open;
    this.inbound.open();
    if (open === 1) {
      if (this.shape !== StreamKind.SERVER) void this.pump(this.request as StreamSource);
      return;
    }
    // A new stream on another node: the server's initial window again, what was sent goes first.
    this.credit.restart();
    const sent = this.sentBodies;
    if (sent !== undefined) {
      for (const { body, compression } of sent) {
        this.credit.spend(body.length);
        sender.message(body, compression);
      }
    }
    if (this.endSent) sender.end({ status: 0, metadata: undefined });
  }

  /**
   * Ends the stream here (deadline, the caller's cancel or early exit, a broken window, the
   * caller's messages failing): CANCEL on the wire, the caller's loop and the filters' next()
   * get the reason.
   */
  abort(reason: RpcError): void {
    if (this.over) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    const sender = this.sender;
    this.close(reason);
    sender?.cancel();
    this.inbound.finish(reason);
    this.sink?.fail(reason);
  }

  /**
   * The call filters settled: what the caller's loop ends with (a filter may have refused the
   * stream before next(), or changed its error). A stream still open here (a filter that
   * answered without next()) is ended on the wire.
   */
  settled(error: RpcError | undefined): void {
    if (!this.over) {
      const sender = this.sender;
      this.close(error);
      sender?.cancel();
    }
    this.inbound.finish(error);
  }

  // StreamReceiver: the server's frames.

  message(body: Uint8Array, compression?: Compression, blocked?: boolean): void {
    if (this.over) return;
    if (!this.committed) this.commit();
    const broken = this.inbound.push(body, compression, blocked);
    if (broken !== undefined) this.abort(broken);
  }

  window(credit: number): void {
    if (!this.committed) this.commit();
    this.credit.grant(credit);
  }

  end(end: StreamEnd): void {
    if (this.over) return;
    if (end.metadata !== undefined) this.responseMetadata = end.metadata;
    const error =
      end.violation ??
      (end.status === 0 ? undefined : RpcError.fromWire(end.status, end.message ?? '', end.details, end.metadata, end.stack, progressFromWire(end.progress), retryableFromWire(end.retryable)));
    if (error !== undefined && this.mayReopen(error)) return this.reopen(error);
    if (!this.committed) this.commit();
    this.giveUp(error);
  }

  fail(error: RpcError): void {
    if (this.over) return;
    if (this.mayReopen(error)) return this.reopen(error);
    this.giveUp(error);
  }

  /** Ends the stream with `error` (or cleanly), never retried: the server's END, or what failed on this side before it opened. */
  giveUp(error: RpcError | undefined): void {
    if (this.over) return;
    this.close(error);
    this.ended(error);
  }

  /** Whether a failure may open the stream again: before any frame of the server's, on no pinned address, under the rules of a transparent retry. */
  private mayReopen(error: RpcError): boolean {
    if (this.committed || this.opens === 0 || this.address !== undefined) return false;
    return (this.retries ??= new TransparentRetries()).take(error, pushbackOf(error.metadata));
  }

  /** Lets go of the failed open (its pick reported), holds the sender, and has the Client open the stream elsewhere. */
  private reopen(error: RpcError): void {
    this.reportPick(error);
    this.sender = undefined;
    this.credit.hold();
    this.owner.reopen(this, error);
  }

  /** The server's first frame: the stream stays on this node; what was kept to send again is dropped. */
  private commit(): void {
    this.committed = true;
    this.sentBodies = undefined;
    if (this.reporter !== undefined) this.answeredAt = performance.now();
  }

  // InboundOwner: the caller's side of the queue.

  grant(credit: number): void {
    if (!this.over) this.sender?.window(credit);
  }

  consumerLeft(): void {
    this.abort(errors.cancelledByCaller('the stream was left before its end'));
  }

  undecodable(error: RpcError): void {
    this.abort(error);
  }

  get maxDecompressedSize(): number {
    return this.owner.maxDecompressedSize;
  }

  /** The stream ended from the server's side: the filters hear it (or, without, the caller's loop). */
  private ended(error: RpcError | undefined): void {
    const sink = this.sink;
    if (sink === undefined) return this.inbound.finish(error);
    if (error === undefined) sink.succeed(undefined);
    else sink.fail(error);
  }

  /** Sends the caller's messages, each as the server's credit allows, then END. */
  private async pump(messages: StreamSource): Promise<void> {
    const { encodeRequest } = this.state.serializers;
    const { compressor } = this.owner;
    try {
      const source = typeof (messages as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
        ? (messages as AsyncIterable<unknown>)[Symbol.asyncIterator]()
        : (messages as Iterable<unknown>)[Symbol.iterator]();
      this.source = source;
      for (;;) {
        const step = await source.next();
        if (this.over) return;
        if (step.done === true) break;
        let body: Uint8Array;
        try {
          body = encodeRequest(step.value);
        } catch (error) {
          return this.abort(RpcError.is(error) ? error : errors.unencodableValue(this.state.codec, 'request', error));
        }
        let compression: Compression = Compression.NONE;
        if (compressor.wants(body)) {
          body = await compressor.compress(body);
          if (this.over) return;
          compression = compressor.flag;
        }
        // A loop: a retry may hold the credit again between the wake-up and this turn.
        while (!this.credit.allows(body.length)) {
          await this.credit.wait(body.length);
          if (this.over) return;
        }
        const blocked = this.credit.spend(body.length);
        try {
          this.sender!.message(body, compression, blocked);
        } catch (error) {
          return this.abort(RpcError.from(error));
        }
        if (!this.committed) (this.sentBodies ??= []).push({ body, compression });
      }
      this.source = undefined;
      this.endSent = true;
      // No sender while a retry opens the stream elsewhere: opened() sends the END then.
      this.sender?.end({ status: 0, metadata: undefined });
    } catch (error) {
      this.source = undefined;
      this.abort(RpcError.is(error) ? error : errors.streamSourceFailed(error));
    }
  }

  /** The selector that picked the current node hears how it went, once. */
  private reportPick(error: RpcError | undefined): void {
    const reporter = this.reporter;
    if (reporter === undefined) return;
    this.reporter = undefined;
    const answeredAt = this.answeredAt !== 0 ? this.answeredAt : error?.code === 'CANCELLED' ? this.sentAt : performance.now();
    reporter.report!(this.node!, error, answeredAt - this.sentAt);
  }

  /** Over (with `error`, or cleanly): no more sending, the timer and the signals let go, the window's growth given back, the caller's messages closed, the selector told. */
  private close(error: RpcError | undefined): void {
    this.over = true;
    this.sentBodies = undefined;
    this.inbound.release();
    this.reportPick(error);
    this.credit.stop();
    if (this.timed) disarmDeadline(this, this.timer);
    this.timed = false;
    if (this.followed !== undefined) for (const s of this.followed) s.removeEventListener('abort', this.onFollowedAbort!);
    this.followed = undefined;
    const source = this.source;
    this.source = undefined;
    if (source?.return !== undefined) {
      try {
        const closing = source.return();
        if (closing instanceof Promise) closing.catch(() => {});
      } catch {
        // The caller's iterator failed to close: nothing more to do for it.
      }
    }
    if (this.responseMetadata !== undefined && this.onMetadata !== undefined) this.onMetadata(this.responseMetadata);
  }
}

/** A message sent before the server's first frame, kept to send again on a retry. */
interface SentMessage {
  body: Uint8Array;
  compression: Compression;
}

function reasonOf(signal: AbortSignal): RpcError {
  return RpcError.is(signal.reason) ? signal.reason : errors.cancelledByCaller(signal.reason);
}

function decodeResponse(decode: (bytes: Uint8Array) => unknown, codec: string, bytes: Uint8Array): unknown {
  try {
    return decode(bytes);
  } catch (error) {
    throw RpcError.is(error) ? error : errors.undecodableBody(codec, 'response', error);
  }
}
