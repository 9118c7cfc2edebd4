import { Method } from '../decorators/method.js';
import { Service } from '../decorators/service.js';
import { RpcError } from '../errors/rpc-error.js';
import type { Code } from '../errors/codes.js';
import type { CallContext } from '../server/call-context.js';
import type { StreamContext } from '../server/stream-context.js';
import type { Client } from '../client/client.js';

export interface FailRequest {
  code: Code;
  message: string;
  details?: unknown;
}

/** The service the conformance suite calls: each method exercises one semantic of a transport. */
@Service('Conformance')
export class ConformanceService {
  /** Abort reasons the handlers saw, by tag. */
  readonly aborts = new Map<string, string>();
  /** Tags of stream handlers whose `finally` ran. */
  readonly finallies = new Set<string>();
  /** Messages each stream handler produced (or, for client streams, read), by tag. */
  readonly produced = new Map<string, number>();
  /** Set by the suite: lets `relay` call back into the same server. */
  client: Client | undefined;

  @Method()
  async echo(request: unknown): Promise<unknown> {
    return request;
  }

  @Method()
  async metadata(_request: unknown, ctx: CallContext): Promise<{ seen: Record<string, string> }> {
    ctx.sendMetadata({ 'x-out': `re:${ctx.metadata['x-in'] ?? ''}` });
    return { seen: { ...ctx.metadata } };
  }

  @Method()
  async fail(request: FailRequest, ctx: CallContext): Promise<never> {
    ctx.sendMetadata({ 'x-before-error': 'yes' });
    throw new RpcError(request.code, request.message, { details: request.details, metadata: { 'x-error': request.code } });
  }

  @Method()
  async crash(request: { why: string }): Promise<never> {
    throw new Error(`boom: ${request.why}`);
  }

  /** Waits `ms` or until aborted; records the abort reason under `tag`. */
  @Method()
  async wait(request: { ms: number; tag: string }, ctx: CallContext): Promise<{ waited: number }> {
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, request.ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        const reason = ctx.signal.reason as RpcError;
        this.aborts.set(request.tag, reason.code);
        resolve();
      }, { once: true });
    });
    return { waited: Date.now() - started };
  }

  @Method({ timeout: 80 })
  async limited(request: { ms: number; tag: string }, ctx: CallContext): Promise<{ waited: number }> {
    return this.wait(request, ctx);
  }

  @Method()
  async nothing(): Promise<void> {}

  @Method()
  async remaining(_request: unknown, ctx: CallContext): Promise<{ remaining: number | null }> {
    const left = ctx.remaining();
    return { remaining: Number.isFinite(left) ? left : null };
  }

  /** Calls `remaining` downstream with this call as parent. */
  @Method()
  async relay(_request: unknown, ctx: CallContext): Promise<{ own: number; downstream: number | null }> {
    const downstream = await this.client!.invoke<{ remaining: number | null }>('Conformance', 'remaining', {}, { parent: ctx, timeout: 60_000 });
    return { own: ctx.remaining(), downstream: downstream.remaining };
  }

  // Streams (conformance-streams.ts).

  /** Yields `n` messages { i, pad } in order, as fast as the credit allows; counts them under `tag`. */
  @Method()
  async *count(request: { n: number; pad?: number; tag?: string }, ctx: CallContext): AsyncGenerator<{ i: number; pad: string }> {
    const pad = 'x'.repeat(request.pad ?? 0);
    const tag = request.tag ?? '';
    try {
      for (let i = 0; i < request.n; i++) {
        this.produced.set(tag, i + 1);
        yield { i, pad };
      }
    } finally {
      this.finallies.add(tag);
      if (ctx.aborted) this.aborts.set(tag, (ctx.signal.reason as RpcError).code);
    }
  }

  /** Yields a message every `everyMs` until the stream ends; its finally and signal are recorded under `tag`. */
  @Method()
  async *ticks(request: { tag: string; everyMs: number }, ctx: CallContext): AsyncGenerator<{ i: number }> {
    ctx.signal.addEventListener('abort', () => this.aborts.set(request.tag, (ctx.signal.reason as RpcError).code), { once: true });
    try {
      for (let i = 0; ; i++) {
        yield { i };
        await new Promise((resolve) => setTimeout(resolve, request.everyMs));
      }
    } finally {
      this.finallies.add(request.tag);
    }
  }

  /** Yields `n` messages, then throws an RpcError with `code`. */
  @Method()
  async *failAfter(request: { n: number } & FailRequest): AsyncGenerator<{ i: number }> {
    for (let i = 0; i < request.n; i++) yield { i };
    throw new RpcError(request.code, request.message, { details: request.details });
  }

  /** A client stream: the sum of the `n` of every message; reads slowly when `readEveryMs` is set. */
  @Method()
  async sum(messages: AsyncIterable<{ n: number; tag?: string; readEveryMs?: number }>): Promise<{ total: number; count: number }> {
    let total = 0;
    let count = 0;
    for await (const message of messages) {
      total += message.n;
      count++;
      if (message.tag !== undefined) this.produced.set(`read:${message.tag}`, count);
      if (message.readEveryMs !== undefined) await new Promise((resolve) => setTimeout(resolve, message.readEveryMs));
    }
    return { total, count };
  }

  /** Sends metadata (trailing, with the END) and yields the stream's shape `n` times. */
  @Method()
  async *shaped(request: { n: number }, ctx: CallContext): AsyncGenerator<{ i: number; shape: string }> {
    ctx.sendMetadata({ 'x-stream': `re:${ctx.metadata['x-in'] ?? ''}` });
    for (let i = 0; i < request.n; i++) yield { i, shape: (ctx as StreamContext).stream };
  }

  /** Bidirectional: each message back as it is, in order. */
  @Method()
  async *echoStream(messages: AsyncIterable<unknown>): AsyncGenerator<unknown> {
    for await (const message of messages) yield message;
  }
}
