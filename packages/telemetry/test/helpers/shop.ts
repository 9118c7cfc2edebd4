import { trace } from '@opentelemetry/api';
import { Method, RpcError, Service, Subscribe, type CallContext, type EventContext, type Logger } from '@svc/core';

/** An in-process Shop for the tests that need no second process. */
export function shop(logger?: Logger) {
  @Service('Shop')
  class Shop {
    readonly seen: { traceparent: string | undefined; baggage?: string | undefined }[] = [];
    @Method()
    async hello(args: { name: string }, ctx: CallContext): Promise<{ greeting: string; spanId: string | undefined }> {
      this.seen.push({ traceparent: ctx.metadata.traceparent, baggage: ctx.metadata.baggage });
      logger?.info(`hello ${args.name}`);
      return { greeting: `hello ${args.name}`, spanId: trace.getActiveSpan()?.spanContext().spanId };
    }
    @Method()
    async reject(): Promise<never> {
      throw new RpcError('INVALID_ARGUMENT', 'no');
    }
    @Subscribe('orders.created')
    async onOrder(_order: unknown, ctx: EventContext): Promise<void> {
      this.seen.push({ traceparent: ctx.metadata.traceparent });
    }
  }
  return new Shop();
}
