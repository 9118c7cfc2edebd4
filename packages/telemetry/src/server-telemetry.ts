import { context, ROOT_CONTEXT, SpanKind, trace, TraceFlags, type Context, type Histogram, type Span, type Tracer } from '@opentelemetry/api';
import type { Call, CallContext, EventContext, Filter, Next } from '@svc/core';
import type { Propagator, ResolvedFilterOptions } from './filter-options.js';
import { SCOPE_NAME, SCOPE_VERSION } from './instrumentation-scope.js';
import { metadataGetter } from './metadata-carrier.js';
import { parseServerAddress } from './node-address.js';
import type { Operation, OperationTable } from './operation.js';
import { methodTable, topicTable } from './operation-tables.js';
import {
  ATTR_CODE_FUNCTION_NAME,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_RPC_METHOD_ORIGINAL,
  DURATION_BUCKETS,
  METRIC_MESSAGING_PROCESS_DURATION,
  METRIC_RPC_SERVER_CALL_DURATION,
  METRIC_SVC_SERVER_ACTIVE_CALLS,
} from './semconv.js';
import { endRpcSpan, recordError } from './span-end.js';
import { startSpan } from './span-start.js';
import { serverMarksError, statusOf, type StatusCode } from './status.js';
import { unsampledIds } from './trace-ids.js';
import { passOn } from './pass-on.js';

/**
 * The server's telemetry, one filter for calls and events: a SERVER span per handled call (the
 * child of the caller's attempt span, from the trace context in the request metadata), a
 * CONSUMER span per event delivery (the child of the producer span), their durations and the
 * calls in flight. The handler runs inside its span's context, so what it does (downstream
 * calls, logs, other instrumentations) nests under the span.
 */
export class ServerTelemetry {
  readonly filter: Filter;
  private readonly tracer: Tracer | undefined;
  private readonly propagator: Propagator;
  private readonly samplerAttributes: boolean;
  private readonly w3c: boolean;
  private readonly methods = methodTable(serverMarksError);
  private readonly topics: OperationTable;
  private readonly duration: Histogram | undefined;
  private readonly processDuration: Histogram | undefined;

  constructor(options: ResolvedFilterOptions) {
    this.tracer = options.tracerProvider?.getTracer(SCOPE_NAME, SCOPE_VERSION);
    this.propagator = options.propagator;
    this.samplerAttributes = options.samplerAttributes;
    this.w3c = options.w3c;
    this.topics = topicTable(options.messagingSystem, 'process', 'process');
    const meter = options.meterProvider?.getMeter(SCOPE_NAME, SCOPE_VERSION);
    if (meter !== undefined) {
      const advice = { explicitBucketBoundaries: DURATION_BUCKETS as number[] };
      this.duration = meter.createHistogram(METRIC_RPC_SERVER_CALL_DURATION, { unit: 's', description: 'Duration of incoming calls, from the filters to the answer.', advice });
      meter.createObservableUpDownCounter(METRIC_SVC_SERVER_ACTIVE_CALLS, { unit: '{call}', description: 'Incoming calls being handled.' }).addCallback((result) => {
        for (const operation of this.methods.all()) result.observe(operation.active, operation.attributes);
      });
      this.processDuration = meter.createHistogram(METRIC_MESSAGING_PROCESS_DURATION, { unit: 's', description: 'Duration of event handlers.', advice });
    }
    this.filter = (call, next) => (call.kind === 'event' ? this.process(call as EventContext, next) : this.call(call as CallContext, next));
  }

  private call(ctx: CallContext, next: Next): Promise<unknown> {
    // A method the server does not have is `_OTHER` (the name asked for is on the span only).
    const known = ctx.definition !== undefined;
    const operation = known ? this.methods.get(ctx.service, ctx.method) : this.methods.other();
    let spanContext: Context | undefined;
    let span: Span | undefined;
    if (this.tracer !== undefined) {
      const metadata = ctx.metadata;
      // A caller's decision not to sample, in the W3C form alone: its context is made here, as
      // the propagator would make it, and no span (startSpan would make none either).
      const unsampled = this.w3c && metadata.tracestate === undefined && metadata.baggage === undefined ? unsampledIds(metadata.traceparent) : undefined;
      if (unsampled !== undefined) {
        spanContext = trace.setSpanContext(ROOT_CONTEXT, { traceId: unsampled.traceId, spanId: unsampled.spanId, traceFlags: TraceFlags.NONE, isRemote: true });
      } else {
        // From the root, not the active context: a socket's callbacks run in whatever context dialed it.
        const parent = this.propagator.extract(ROOT_CONTEXT, metadata, metadataGetter);
        span = startSpan(this.tracer, operation.spanName, SpanKind.SERVER, operation.attributes, parent, this.samplerAttributes);
        if (span?.isRecording()) describeCall(span, ctx, known);
        spanContext = span === undefined ? parent : trace.setSpan(parent, span);
      }
    }
    // Nothing to end or measure (not recorded, metrics off): the handler runs in the caller's
    // context (downstream calls follow its decision), without an async frame of this filter's.
    if (span === undefined && this.duration === undefined) return spanContext !== undefined ? context.with(spanContext, passOn, undefined, next) : passOn(next);
    return this.measured(next, operation, span, spanContext);
  }

  /** The rest of a call that has a span or is measured: calls in flight, the span's end, the duration. */
  private async measured(next: Next, operation: Operation, span: Span | undefined, spanContext: Context | undefined): Promise<unknown> {
    const started = this.duration !== undefined ? performance.now() : 0;
    operation.active++;
    try {
      // Also when not sampled (then it is the caller's context): downstream calls follow the decision.
      const value = spanContext !== undefined ? await context.with(spanContext, next) : await next();
      this.ended(operation, span, started, 'OK', undefined);
      return value;
    } catch (error) {
      this.ended(operation, span, started, statusOf(error), error);
      throw error;
    }
  }

  private ended(operation: Operation, span: Span | undefined, started: number, code: StatusCode, error: unknown): void {
    operation.active--;
    if (span !== undefined) endRpcSpan(span, code, error, serverMarksError);
    this.duration?.record((performance.now() - started) / 1000, operation.ended(code));
  }

  private async process(ctx: EventContext, next: Next): Promise<unknown> {
    const operation = this.topics.get(ctx.topic, '');
    let spanContext: Context | undefined;
    let span: Span | undefined;
    if (this.tracer !== undefined) {
      // The producer's span is the parent: one event, one creation context (the conventions allow
      // it for single messages; a delivery has no other ambient span to link).
      const parent = this.propagator.extract(ROOT_CONTEXT, ctx.metadata, metadataGetter);
      span = startSpan(this.tracer, operation.spanName, SpanKind.CONSUMER, operation.attributes, parent, this.samplerAttributes);
      if (span?.isRecording()) span.setAttribute(ATTR_CODE_FUNCTION_NAME, `${ctx.service}.${ctx.method}`);
      spanContext = span === undefined ? parent : trace.setSpan(parent, span);
    }
    const started = this.processDuration !== undefined ? performance.now() : 0;
    let code: StatusCode = 'OK';
    try {
      return spanContext !== undefined ? await context.with(spanContext, next) : await next();
    } catch (error) {
      code = statusOf(error);
      if (span !== undefined) recordError(span, code, error);
      throw error;
    } finally {
      span?.end();
      this.processDuration?.record((performance.now() - started) / 1000, operation.ended(code, false));
    }
  }
}

/** What only a recorded span gets: the method name asked for when it is unknown, and the peer. */
function describeCall(span: Span, ctx: Call & { readonly peer?: { readonly address: string } | undefined }, known: boolean): void {
  if (!known) span.setAttribute(ATTR_RPC_METHOD_ORIGINAL, `${ctx.service}/${ctx.method}`);
  const peer = ctx.peer;
  if (peer === undefined) return;
  const { address, port } = parseServerAddress(peer.address);
  // Only an address with a port is a network peer (a NATS inbox, an inproc name are not).
  if (port === undefined) return;
  span.setAttribute(ATTR_NETWORK_PEER_ADDRESS, address);
  span.setAttribute(ATTR_NETWORK_PEER_PORT, port);
}
