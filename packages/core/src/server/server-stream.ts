import { RpcError } from '../errors/rpc-error.js';
import * as errors from '../errors/framework-errors.js';
import { errorStatus } from './server-call.js';
import { armDeadline, disarmDeadline, type DeadlineHandle, type DeadlineTarget } from '../deadline-timer.js';
import { StreamKind, type RequestMessage, type StreamEnd, type StreamReceiver, type StreamSender } from '../transport/transport.js';
import { checkMetadata, mergeMetadata, type Metadata } from '../metadata.js';
import type { MethodSerializers } from '../codec/codec.js';
import { callContextInternals } from './call-context.js';
import { StreamContext, type StreamServing, type StreamShape } from './stream-context.js';
import { InboundMessages, type InboundOwner } from '../stream/inbound-messages.js';
import { OutboundCredit } from '../stream/outbound-credit.js';
import { Compression } from '../wire/header.js';
import type { MethodEntry, Server } from './server.js';

const EMPTY = new Uint8Array(0);
const internals = callContextInternals();

const SHAPES: Record<number, StreamShape | undefined> = { [StreamKind.SERVER]: 'server', [StreamKind.CLIENT]: 'client', [StreamKind.BIDI]: 'bidi' };

/**
 * One stream on the server, from the REQUEST to its one END: the handler (through the server's
 * filters, which see the whole stream as one call), its messages out under the client's credit,
 * the client's messages in under ours, the deadline, and cancellation. Ends exactly once: with
 * an END it sends (the handler finished or failed, the deadline, the drain), or silently when the
 * transport lost it (CANCEL, a lost connection: `lost`), and then the handler's signal fires and
 * its generator's `return()` runs its `finally`.
 */
export class ServerStream implements StreamServing, InboundOwner, DeadlineTarget {
  readonly key: number;
  private readonly server: Server;
  private readonly request: RequestMessage;
  private readonly sender: StreamSender;
  private readonly window: number;
  private ctx: StreamContext | undefined = undefined;
  private entry: MethodEntry | undefined = undefined;
  private serializers: MethodSerializers | undefined = undefined;
  /** The client's messages (client and bidi streams). */
  private inbound: InboundMessages | undefined = undefined;
  private readonly credit = new OutboundCredit();
  /** The handler's messages being sent, to `return()` when the stream ends early. */
  private source: AsyncIterator<unknown> | undefined = undefined;
  private sourceClosed = false;
  private done = false;
  /** Why the stream ended early (the transport lost it, or an error END): what the filters' next() rejects with. */
  private reason: RpcError | undefined = undefined;
  deadline = 0;
  private timeoutMs = 0;
  private timer: DeadlineHandle = undefined;
  private timed = false;
  sweptPrev: DeadlineTarget | undefined = undefined;
  sweptNext: DeadlineTarget | undefined = undefined;

  constructor(server: Server, request: RequestMessage, sender: StreamSender, key: number, window: number) {
    this.server = server;
    this.request = request;
    this.sender = sender;
    this.key = key;
    this.window = window;
  }

  /** What the transport hands the client's frames to. */
  receiver(): StreamReceiver {
    return {
      message: (body, compression, blocked) => this.onMessage(body, compression, blocked),
      window: (credit) => this.credit.grant(credit),
      end: () => this.inbound?.finish(),
      fail: (error) => this.lost(error),
    };
  }

  async run(): Promise<void> {
    const { server, request } = this;
    try {
      const entry = server.findMethod(request.service, request.method);
      this.entry = entry;
      const timeout = entry?.definition.options.timeout;
      let deadline = request.deadline;
      if (timeout !== undefined && timeout > 0) {
        const local = Date.now() + timeout;
        if (deadline === 0 || local < deadline) deadline = local;
      }
      const shape = SHAPES[request.stream ?? 0];
      const ctx = new StreamContext(shape ?? 'server', this, request.service, request.method, request.metadata, deadline, request.peer, entry, server);
      this.ctx = ctx;
      if (request.violation !== undefined) return await this.refuse(request.violation);
      if (shape === undefined) return await this.refuse(errors.protocolError(`stream kind ${request.stream} is not 1 (server), 2 (client) or 3 (bidi)`));
      if (entry === undefined) return await this.refuse(server.notFound(request.service, request.method));
      if (entry.declared !== undefined && entry.declared !== shape) return await this.refuse(errors.calledAsOtherShape(request.service, request.method, entry.declared, shape).withProgress('refused'));
      if (deadline !== 0) {
        const ms = deadline - Date.now();
        if (ms <= 0) return this.fail(errors.deadlineExceeded(undefined));
        this.arm(deadline, ms);
      }
      let serializers: MethodSerializers;
      try {
        serializers = server.serializersFor(entry, request.codec);
        this.serializers = serializers;
        if (shape === 'server') ctx.request = decodeRequest(serializers, request.codec, request.body);
      } catch (error) {
        return await this.refuse(error);
      }
      request.body = EMPTY;
      if (shape !== 'server') {
        const decode = serializers.decodeRequest;
        const codec = request.codec;
        this.inbound = new InboundMessages(this.window, (bytes) => decodeWith(decode, codec, bytes), this, this.server.windowBudget);
        ctx.request = this.inbound;
        this.inbound.open();
      }
      if (this.done) return;
      await (entry.unfiltered === true ? server.streamHandler(ctx) : server.streamChain(ctx));
      this.end();
    } catch (error) {
      this.fail(error);
    }
  }

  /** The terminal of the server's stream chain: the handler, and its messages sent to the end. */
  async serve(ctx: StreamContext): Promise<void> {
    const entry = this.entry!;
    ctx.handlerStarted = true;
    const produced: unknown = entry.invokeStream(ctx.request, ctx);
    if (ctx.stream === 'client') {
      const result = await produced;
      if (isAsyncIterable(result)) throw errors.notAStreamHandler(ctx.service, ctx.method, 'client stream', 'returned an AsyncIterable instead of one result');
      return this.sendAll([result]);
    }
    const messages = isAsyncIterable(produced) ? produced : await produced;
    if (!isAsyncIterable(messages)) throw errors.notAStreamHandler(ctx.service, ctx.method, `${ctx.stream === 'bidi' ? 'bidirectional' : 'server'} stream`, 'returned something that is not an AsyncIterable (write it as an async * generator)');
    return this.sendAll(messages);
  }

  /** Sends each message as the client's credit allows; a message waits while the window is spent. */
  private async sendAll(messages: AsyncIterable<unknown> | readonly unknown[]): Promise<void> {
    const iterator = Array.isArray(messages) ? undefined : (messages as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    this.source = iterator;
    const { encodeResponse } = this.serializers!;
    const { compressor } = this.server;
    try {
      let index = 0;
      for (;;) {
        let value: unknown;
        if (this.done) throw this.endedEarly();
        if (iterator === undefined) {
          const list = messages as readonly unknown[];
          if (index >= list.length) return;
          value = list[index++];
        } else {
          const step = await iterator.next();
          if (this.done) throw this.endedEarly();
          if (step.done === true) return;
          value = step.value;
        }
        let body: Uint8Array;
        try {
          body = encodeResponse(value);
        } catch (error) {
          throw RpcError.is(error) ? error : errors.unencodableValue(this.request.codec, 'response', error);
        }
        let compression: Compression = Compression.NONE;
        if (compressor.wants(body)) {
          body = await compressor.compress(body);
          if (this.done) throw this.endedEarly();
          compression = compressor.flag;
        }
        if (!this.credit.allows(body.length)) {
          await this.credit.wait(body.length);
          if (this.done) throw this.endedEarly();
        }
        const blocked = this.credit.spend(body.length);
        this.sender.message(body, compression, blocked);
      }
    } finally {
      this.closeSource();
    }
  }

  /** What the filters' next() rejects with once the stream ended before its handler did. */
  private endedEarly(): RpcError {
    return this.reason ?? errors.cancelledByCaller();
  }

  /** InboundOwner: credit for the client's messages. */
  grant(credit: number): void {
    if (!this.done) this.sender.window(credit);
  }

  /** InboundOwner: the handler stopped reading the client's messages; its stream goes on. */
  consumerLeft(): void {}

  /** InboundOwner: the server's limit for a compressed message. */
  get maxDecompressedSize(): number {
    return this.server.maxDecompressedSize;
  }

  /** InboundOwner: a client message did not decode: the stream ends with that. */
  undecodable(error: RpcError): void {
    this.fail(error);
  }

  private onMessage(body: Uint8Array, compression: Compression | undefined, blocked: boolean | undefined): void {
    if (this.done) return;
    const inbound = this.inbound;
    if (inbound === undefined) return this.fail(errors.protocolError('the client sent a MESSAGE on a server stream, whose only request is the REQUEST itself'));
    const broken = inbound.push(body, compression, blocked);
    if (broken !== undefined) this.fail(broken);
  }

  deadlineReached(): void {
    this.timed = false;
    this.fail(errors.deadlineExceeded(this.timeoutMs));
  }

  private arm(deadline: number, ms: number): void {
    this.deadline = deadline;
    this.timeoutMs = ms;
    this.timed = true;
    this.timer = armDeadline(this);
  }

  /** As ServerCall.refuse: the filters see the stream, their next() rejects with the reason. */
  private async refuse(reason: unknown): Promise<void> {
    const { server, request } = this;
    const ctx = this.ctx!;
    request.body = EMPTY;
    if (server.filtered) {
      internals.refuse(ctx, reason);
      if (!this.timed && ctx.deadline !== 0) {
        const ms = ctx.deadline - Date.now();
        if (ms > 0) this.arm(ctx.deadline, ms);
      }
      if (this.done) return;
      await server.refusalChain(ctx);
    }
    this.fail(reason);
  }

  /** The stream ends with an error END (the handler's, a limit, the deadline, the drain). */
  fail(error: unknown): void {
    if (this.done) return;
    let rpc = RpcError.from(error);
    if (!RpcError.is(error) && error instanceof Error) this.warn(`threw ${error.name}: ${error.message}`);
    let metadata: Metadata | undefined = this.ctx?.responseMetadata;
    if (rpc.metadata !== undefined) metadata = mergeMetadata(metadata, rpc.metadata);
    let details: string | undefined;
    if (rpc.details !== undefined) {
      try {
        details = JSON.stringify(rpc.details);
      } catch (unencodable) {
        rpc = errors.unencodableErrorDetails(rpc.code, unencodable);
      }
    }
    this.finish(rpc);
    this.send(this.errorEnd(rpc, details, metadata));
  }

  /** The transport lost the stream (CANCEL, the connection): stop everything, send nothing. */
  private lost(error: RpcError): void {
    if (this.done) return;
    this.finish(error);
  }

  /** The handler finished: END with status 0 and the metadata it sent. */
  private end(): void {
    if (this.done) return;
    const metadata = this.ctx?.responseMetadata;
    this.finish(undefined);
    this.send({ status: 0, metadata });
  }

  private send(end: StreamEnd): void {
    if (end.metadata !== undefined) {
      try {
        checkMetadata(end.metadata, 'response', this.server.metadataLimits);
      } catch (error) {
        this.warn((error as RpcError).message);
        end = this.errorEnd(error as RpcError, undefined, undefined);
      }
    }
    try {
      this.sender.end(end);
    } catch (error) {
      this.warn(`the END could not be sent (${(error as Error)?.message ?? String(error)})`);
      try {
        this.sender.end(this.errorEnd(errors.unsendableMessage('response', error), undefined, undefined));
      } catch {
        // The caller will see its deadline or the connection end.
      }
    }
  }

  private errorEnd(rpc: RpcError, details: string | undefined, metadata: Metadata | undefined): StreamEnd {
    return errorStatus(rpc, details, metadata, this.server.exposeStack, this.ctx?.handlerStarted === true);
  }

  /** Done: timer off, the server's count, credit waiters released, the window's growth given back, the handler told and its generator closed. */
  private finish(error: RpcError | undefined): void {
    this.done = true;
    this.reason = error;
    this.inbound?.release();
    if (this.timed) disarmDeadline(this, this.timer);
    this.server.finished(this);
    this.credit.stop();
    if (error !== undefined) {
      this.ctx?.abortWith(error);
      this.inbound?.finish(error);
    }
    this.closeSource();
  }

  private closeSource(): void {
    const source = this.source;
    if (source === undefined || this.sourceClosed) return;
    this.sourceClosed = true;
    // Runs the generator's finally; a generator busy in an await does so once it yields.
    source.return?.()?.catch(() => {});
  }

  private warn(text: string): void {
    this.server.logger.warn(`${this.request.service}.${this.request.method}: ${text}`);
  }
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

function decodeRequest(serializers: MethodSerializers, codec: string, body: Uint8Array): unknown {
  return decodeWith(serializers.decodeRequest, codec, body);
}

function decodeWith(decode: (bytes: Uint8Array) => unknown, codec: string, bytes: Uint8Array): unknown {
  try {
    return decode(bytes);
  } catch (error) {
    throw RpcError.is(error) ? error : errors.undecodableBody(codec, 'request', error);
  }
}
