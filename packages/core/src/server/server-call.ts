import { RpcError } from '../errors/rpc-error.js';
import * as errors from '../errors/framework-errors.js';
import { Compression, retryableToWire, WireProgress } from '../wire/header.js';
import { decompress } from '../codec/compression.js';
import { armDeadline, disarmDeadline, type DeadlineHandle, type DeadlineTarget } from '../deadline-timer.js';
import type { Cancellable, ReplyTarget, RequestMessage, ResponseMessage } from '../transport/transport.js';
import { checkMetadata, mergeMetadata, type Metadata } from '../metadata.js';
import type { MethodSerializers } from '../codec/codec.js';
import { CallContext, callContextInternals } from './call-context.js';
import type { Server } from './server.js';

const EMPTY = new Uint8Array(0);
const internals = callContextInternals();
/**
 * One call on the server, from decode to reply: the deadline timer, cancellation, and the rule
 * that every call is answered exactly once (or not at all when the caller cancelled).
 */
export class ServerCall implements Cancellable, DeadlineTarget {
  private readonly server: Server;
  private readonly request: RequestMessage;
  private readonly replyTo: ReplyTarget;
  private ctx: CallContext | undefined;
  private timer: DeadlineHandle = undefined;
  sweptPrev: DeadlineTarget | undefined = undefined;
  sweptNext: DeadlineTarget | undefined = undefined;
  private timed = false;
  /** The call's deadline, once known; a DeadlineTarget. */
  deadline = 0;
  private timeoutMs = 0;
  private done = false;
  /** Its key among the server's calls in flight. */
  readonly key: number;

  constructor(server: Server, request: RequestMessage, replyTo: ReplyTarget, key: number) {
    this.key = key;
    this.server = server;
    this.request = request;
    this.replyTo = replyTo;
  }

  async run(): Promise<void> {
    const { server, request } = this;
    let serializers: MethodSerializers | undefined;
    try {
      const entry = server.findMethod(request.service, request.method);
      const timeout = entry?.definition.options.timeout;
      let deadline = request.deadline;
      if (timeout !== undefined && timeout > 0) {
        const local = Date.now() + timeout;
        if (deadline === 0 || local < deadline) deadline = local;
      }
      const ctx = new CallContext(request.service, request.method, request.metadata, deadline, request.peer, entry, server);
      this.ctx = ctx;
      // The transport took the request apart but found it over a limit (metadata caps), or there
      // is no such method: the filters see the call (a limiter, a span), then it is refused unrun.
      if (request.violation !== undefined) return await this.refuse(ctx, request.violation);
      if (entry === undefined) return await this.refuse(ctx, server.notFound(request.service, request.method));
      if (deadline !== 0) {
        const ms = deadline - Date.now();
        if (ms <= 0) return this.fail(errors.deadlineExceeded(undefined));
        this.arm(deadline, ms);
      }
      try {
        serializers = server.serializersFor(entry, request.codec);
        const body = request.compression === Compression.NONE ? request.body : await decompress(request.compression, request.body, server.maxDecompressedSize);
        try {
          ctx.request = serializers.decodeRequest(body);
        } catch (error) {
          throw RpcError.is(error) ? error : errors.undecodableBody(request.codec, 'request', error);
        }
      } catch (error) {
        // A codec the server lacks, a body that does not inflate or decode: the filters see the
        // call with no request, and their next() rejects with the reason.
        return await this.refuse(ctx, error);
      }
      // The bytes are decoded: let them go. A body is a view of what the transport read (a TCP
      // chunk, a whole NATS message of several calls), which a slow handler would otherwise keep.
      request.body = EMPTY;
      if (this.done) return;
      const result = await (entry.unfiltered === true ? server.handler(ctx) : server.chain(ctx));
      if (this.done) return;
      let out: Uint8Array;
      try {
        out = serializers.encodeResponse(result);
      } catch (error) {
        throw RpcError.is(error) ? error : errors.unencodableValue(request.codec, 'response', error);
      }
      let compression: Compression = Compression.NONE;
      if (server.compressor.wants(out)) {
        out = await server.compressor.compress(out);
        compression = server.compressor.flag;
      }
      this.reply({ status: 0, metadata: ctx.responseMetadata, codec: request.codec, compression, body: out });
    } catch (error) {
      this.fail(error);
    }
  }

  private arm(deadline: number, ms: number): void {
    this.deadline = deadline;
    this.timeoutMs = ms;
    this.timed = true;
    this.timer = armDeadline(this);
  }

  /**
   * Refuses a call its handler will not see: the filters run with a terminal that throws `reason`
   * (so `handlerStarted` stays false: progress `refused`). A filter may answer its own error
   * instead (by throwing it); one that swallows the reason does not make the call a success.
   */
  private async refuse(ctx: CallContext, reason: unknown): Promise<void> {
    const { server, request } = this;
    // Nothing of the body is needed any more, whatever the filters take their time over.
    request.body = EMPTY;
    if (server.filtered) {
      internals.refuse(ctx, reason);
      // Bounded by the caller's deadline like any call, so a filter that waits cannot hold it.
      if (!this.timed && ctx.deadline !== 0) {
        const ms = ctx.deadline - Date.now();
        if (ms > 0) this.arm(ctx.deadline, ms);
      }
      if (this.done) return;
      await server.refusalChain(ctx); // rejects with the reason, or with a filter's own error
    }
    this.fail(reason);
  }

  deadlineReached(): void {
    this.timed = false;
    this.fail(errors.deadlineExceeded(this.timeoutMs));
  }

  /** Answers with an error (thrown by the handler, a filter, or the framework). */
  fail(error: unknown): void {
    if (this.done) return;
    let rpc = RpcError.from(error);
    if (rpc.code === 'DEADLINE_EXCEEDED' || rpc.code === 'UNAVAILABLE') this.ctx?.abortWith(rpc);
    if (!RpcError.is(error) && error instanceof Error) {
      this.server.logger.warn(`${this.request.service}.${this.request.method} threw ${error.name}: ${error.message}`);
    }
    let metadata: Metadata | undefined = this.ctx?.responseMetadata;
    if (rpc.metadata !== undefined) metadata = mergeMetadata(metadata, rpc.metadata);
    let details: string | undefined;
    if (rpc.details !== undefined) {
      try {
        details = JSON.stringify(rpc.details);
      } catch (unencodable) {
        rpc = errors.unencodableErrorDetails(rpc.code, unencodable);
        this.warn(rpc.message);
      }
    }
    this.reply(this.errorResponse(rpc, details, metadata));
  }

  private errorResponse(rpc: RpcError, details: string | undefined, metadata: Metadata | undefined): ResponseMessage {
    return {
      ...errorStatus(rpc, details, metadata, this.server.exposeStack, this.ctx?.handlerStarted === true),
      codec: this.request.codec,
      compression: Compression.NONE,
      body: EMPTY,
    };
  }


  private warn(text: string): void {
    this.server.logger.warn(`${this.request.service}.${this.request.method}: ${text}`);
  }

  /** The caller cancelled or went away: stop the handler, send nothing. */
  cancel(): void {
    if (this.done) return;
    this.finish();
    this.ctx?.abortWith(errors.cancelledByCaller());
  }

  /**
   * Sends the one answer. What a transport could not carry is caught here, so that a caller never
   * reads a failure as a success: metadata that breaks the rules or the caps becomes an error
   * answer naming the key, and so does a transport that throws while taking the answer.
   */
  private reply(response: ResponseMessage): void {
    if (this.done) return;
    this.finish();
    if (response.metadata !== undefined) {
      try {
        checkMetadata(response.metadata, 'response', this.server.metadataLimits);
      } catch (error) {
        const rpc = error as RpcError;
        this.warn(response.status === 0 ? rpc.message : `${rpc.message} (the call failed with status ${response.status}: ${response.message})`);
        response = this.errorResponse(rpc, undefined, undefined);
      }
    }
    try {
      this.replyTo.reply(this.request.id, response);
    } catch (error) {
      const rpc = errors.unsendableMessage('response', error);
      this.warn(rpc.message);
      try {
        this.replyTo.reply(this.request.id, this.errorResponse(rpc, undefined, undefined));
      } catch (again) {
        this.warn(`not even the error could be sent (${(again as Error)?.message ?? String(again)}); the caller will see its deadline or the connection end`);
      }
    }
  }

  private finish(): void {
    this.done = true;
    if (this.timed) disarmDeadline(this, this.timer);
    this.server.finished(this);
  }
}

/**
 * What an error answer says of itself, for a call's RESPONSE and a stream's END alike: code,
 * message, details, the stack only when the server exposes stacks, and progress by one rule,
 * whether the handler started (a handler that rethrows a downstream call's refusal was processed).
 */
export function errorStatus(rpc: RpcError, details: string | undefined, metadata: Metadata | undefined, exposeStack: boolean, handlerStarted: boolean) {
  return {
    status: rpc.codeNumber,
    message: rpc.message,
    details,
    stack: exposeStack ? ((rpc.cause as Error | undefined)?.stack ?? rpc.stack) : undefined,
    progress: handlerStarted ? WireProgress.PROCESSED : WireProgress.REFUSED,
    retryable: retryableToWire(rpc),
    metadata,
  };
}
