import { Method } from '../decorators/method.js';
import { Service } from '../decorators/service.js';
import { RpcError } from '../errors/rpc-error.js';
import type { Code } from '../errors/codes.js';
import type { CallContext } from '../server/call-context.js';
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
}
