import { context, propagation, SpanKind, trace, type Context, type Counter, type Histogram, type Span, type Tracer } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { observingAttemptFilter, type AttemptCall, type Call, type Filter, type Next, type OutgoingCall, type PublishCall } from '@svc/core';
import { attachTrace, CallTrace, traceOf } from './call-trace.js';
import type { Propagator, ResolvedFilterOptions } from './filter-options.js';
import { SCOPE_NAME, SCOPE_VERSION } from './instrumentation-scope.js';
import { metadataSetter } from './metadata-carrier.js';
import { ROOT_DRAWN } from './root-sampler.js';
import { unsampledTraceparent } from './trace-ids.js';
import { passOn } from './pass-on.js';
import { parseServerAddress, type ServerAddress } from './node-address.js';
import type { Operation, OperationTable } from './operation.js';
import { methodTable, topicTable } from './operation-tables.js';
import {
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SVC_ATTEMPT,
  ATTR_SVC_HEDGE,
  DURATION_BUCKETS,
  METRIC_MESSAGING_CLIENT_OPERATION_DURATION,
  METRIC_MESSAGING_CLIENT_SENT_MESSAGES,
  METRIC_RPC_CLIENT_CALL_DURATION,
  METRIC_SVC_CLIENT_ACTIVE_CALLS,
  METRIC_SVC_CLIENT_ATTEMPTS,
} from './semconv.js';
import { endRpcSpan, recordError } from './span-end.js';
import { startSpan } from './span-start.js';
import { clientMarksError, statusOf, type StatusCode } from './status.js';

/**
 * The client's telemetry: a call filter (the call's CLIENT span, its duration, calls in flight;
 * a PRODUCER span for a publish) and an attempt filter (a CLIENT span per attempt, a child of the
 * call's, whose context is what the server sees; the attempts each call made). Each filter is one
 * function made here; per call they cost their async frame, the span the sampler asks for, and no
 * attribute object unless the span is recorded.
 */
export class ClientTelemetry {
  readonly callFilter: Filter;
  readonly attemptFilter: Filter<AttemptCall> | undefined;
  private readonly tracer: Tracer | undefined;
  private readonly propagator: Propagator;
  private readonly samplerAttributes: boolean;
  private readonly methods = methodTable(clientMarksError);
  private readonly topics: OperationTable;
  private readonly nodes = new Map<string, ServerAddress>();
  private readonly duration: Histogram | undefined;
  private readonly countAttempts: boolean;
  private readonly publishDuration: Histogram | undefined;
  private readonly sent: Counter | undefined;
  private readonly withAttempts: boolean;
  private readonly rootRatio: number | undefined;

  constructor(options: ResolvedFilterOptions) {
    this.rootRatio = options.rootRatio;
    this.tracer = options.tracerProvider?.getTracer(SCOPE_NAME, SCOPE_VERSION);
    this.propagator = options.propagator;
    this.samplerAttributes = options.samplerAttributes;
    this.topics = topicTable(options.messagingSystem, 'publish', 'send');
    this.withAttempts = options.attempts;
    const meter = options.meterProvider?.getMeter(SCOPE_NAME, SCOPE_VERSION);
    this.countAttempts = meter !== undefined;
    if (meter !== undefined) {
      const advice = { explicitBucketBoundaries: DURATION_BUCKETS as number[] };
      this.duration = meter.createHistogram(METRIC_RPC_CLIENT_CALL_DURATION, { unit: 's', description: 'Duration of outgoing calls, from the call to its answer, retries included.', advice });
      // Counted here and read at collection, like calls in flight: a histogram record costs a
      // few microseconds a call (the SDK hashes the attributes each time), a counter increment nothing.
      meter.createObservableUpDownCounter(METRIC_SVC_CLIENT_ACTIVE_CALLS, { unit: '{call}', description: 'Outgoing calls not answered yet.' }).addCallback((result) => {
        for (const operation of this.methods.all()) result.observe(operation.active, operation.attributes);
      });
      // The attempts come from the call itself (OutgoingCall.attemptCount), not from the attempt filter.
      meter.createObservableCounter(METRIC_SVC_CLIENT_ATTEMPTS, { unit: '{call}', description: 'Finished calls by the attempts they made (svc.attempts; retries and hedges count, 0 when none was sent).' }).addCallback((result) => {
        for (const operation of this.methods.all()) {
          operation.byAttempts.forEach((calls, n) => result.observe(calls, operation.attemptsAttributes(n)));
        }
      });
      this.publishDuration = meter.createHistogram(METRIC_MESSAGING_CLIENT_OPERATION_DURATION, { unit: 's', description: 'Duration of publishing an event, until the transport took it.', advice });
      this.sent = meter.createCounter(METRIC_MESSAGING_CLIENT_SENT_MESSAGES, { unit: '{message}', description: 'Events the client tried to publish.' });
    }
    this.callFilter = (call, next) => (call.kind === 'event' ? this.publish(call as PublishCall, next) : this.call(call as OutgoingCall, next));
    // An observer: calls that are not recorded skip it (OutgoingCall.observeAttempts).
    this.attemptFilter = options.attempts ? observingAttemptFilter((attempt, next) => this.attempt(attempt, next)) : undefined;
  }

  private call(call: OutgoingCall, next: Next): Promise<unknown> {
    const operation = this.methods.get(call.service, call.method);
    let span: Span | undefined;
    let spanContext: Context | undefined;
    if (this.tracer !== undefined) {
      let parent = context.active();
      let drawnOut = false;
      // A new trace, with the sampler startTelemetry built: its decision is drawn here (as its
      // ratio would), so that a call left out makes no SDK span, ids or context, only the header.
      if (this.rootRatio !== undefined && trace.getSpanContext(parent) === undefined && propagation.getBaggage(parent) === undefined && !isTracingSuppressed(parent)) {
        if (Math.random() < this.rootRatio) parent = parent.setValue(ROOT_DRAWN, true);
        else drawnOut = true;
      }
      if (drawnOut) {
        // Also when not sampled: the server then follows the decision instead of making its own.
        setTraceparent(call, unsampledTraceparent());
      } else {
        span = startSpan(this.tracer, operation.spanName, SpanKind.CLIENT, operation.attributes, parent, this.samplerAttributes);
        spanContext = span === undefined ? parent : trace.setSpan(parent, span);
        inject(this.propagator, spanContext, call);
      }
    }
    const recording = span !== undefined && span.isRecording();
    // Attempt spans only for a recorded call. Any other call skips the attempt filters, and with
    // them the fail mode's runner: a call that is not traced costs what it costs untraced.
    if (recording && this.withAttempts) attachTrace(call, new CallTrace(operation, span!, spanContext!));
    else call.observeAttempts = false;
    // Nothing to end and nothing to measure (a call not recorded, metrics off): the call goes on
    // as it is, without an async frame of this filter's around it.
    if (!recording && !this.countAttempts) return passOn(next);
    return this.measured(call, next, operation, span, recording ? spanContext : undefined);
  }

  /** The rest of a call that is recorded or measured: calls in flight, its span's end, its duration and attempts. */
  private async measured(call: OutgoingCall, next: Next, operation: Operation, span: Span | undefined, spanContext: Context | undefined): Promise<unknown> {
    const started = this.duration !== undefined ? performance.now() : 0;
    operation.active++;
    try {
      const value = spanContext !== undefined ? await context.with(spanContext, next) : await next();
      this.ended(operation, span, call, started, 'OK', undefined);
      return value;
    } catch (error) {
      this.ended(operation, span, call, started, statusOf(error), error);
      throw error;
    }
  }

  private ended(operation: Operation, span: Span | undefined, call: OutgoingCall, started: number, code: StatusCode, error: unknown): void {
    operation.active--;
    if (span !== undefined) endRpcSpan(span, code, error, clientMarksError);
    if (this.duration !== undefined) this.duration.record((performance.now() - started) / 1000, operation.ended(code));
    if (this.countAttempts) operation.countAttempts(call.attemptCount);
  }

  private async attempt(attempt: AttemptCall, next: Next): Promise<unknown> {
    // A call that is not recorded turned its attempt filters off; one made without the call
    // filter (another client's attempt filters only) has no trace to join.
    const callTrace = traceOf(attempt.call);
    if (callTrace === undefined) return next();
    const { operation } = callTrace;
    const span = this.tracer!.startSpan(`attempt ${operation.spanName}`, { kind: SpanKind.CLIENT, attributes: operation.attributes }, callTrace.context);
    const node = this.serverAddress(attempt.node.address);
    span.setAttribute(ATTR_SERVER_ADDRESS, node.address);
    if (node.port !== undefined) span.setAttribute(ATTR_SERVER_PORT, node.port);
    span.setAttribute(ATTR_SVC_ATTEMPT, attempt.attempt);
    if (attempt.hedge) span.setAttribute(ATTR_SVC_HEDGE, true);
    const spanContext = trace.setSpan(callTrace.context, span);
    inject(this.propagator, spanContext, attempt);
    try {
      const value = await context.with(spanContext, next);
      endRpcSpan(span, 'OK', undefined, clientMarksError);
      return value;
    } catch (error) {
      endRpcSpan(span, statusOf(error), error, clientMarksError);
      throw error;
    }
  }

  private async publish(call: PublishCall, next: Next): Promise<unknown> {
    const operation = this.topics.get(call.topic, '');
    let span: Span | undefined;
    if (this.tracer !== undefined) {
      const parent = context.active();
      span = startSpan(this.tracer, operation.spanName, SpanKind.PRODUCER, operation.attributes, parent, this.samplerAttributes);
      // The producer span is the event's creation context: the consumer's span is its child.
      inject(this.propagator, span === undefined ? parent : trace.setSpan(parent, span), call);
    }
    const started = this.publishDuration !== undefined ? performance.now() : 0;
    let code: StatusCode = 'OK';
    try {
      return await next();
    } catch (error) {
      code = statusOf(error);
      if (span !== undefined) recordError(span, code, error);
      throw error;
    } finally {
      span?.end();
      if (this.publishDuration !== undefined) {
        const attributes = operation.ended(code, false);
        this.publishDuration.record((performance.now() - started) / 1000, attributes);
        this.sent!.add(1, attributes);
      }
    }
  }

  /** `server.address` and `server.port` of a node, parsed once per address. */
  private serverAddress(address: string): ServerAddress {
    let found = this.nodes.get(address);
    if (found === undefined) {
      found = parseServerAddress(address);
      // Nodes come and go with the registry; a bounded cache is enough for a hot path.
      if (this.nodes.size < 10_000) this.nodes.set(address, found);
    }
    return found;
  }
}

/** Writes the trace context into the call's metadata, when it is an object to write to. */
function inject(propagator: Propagator, spanContext: Context, call: Call): void {
  const metadata = call.metadata;
  // Metadata that is not an object is the caller's mistake, refused after the filters (INVALID_ARGUMENT).
  if (typeof metadata === 'object' && metadata !== null) propagator.inject(spanContext, metadata, metadataSetter);
}

/** What the W3C propagator would write for a new trace that is not sampled (no tracestate, no baggage). */
function setTraceparent(call: Call, traceparent: string): void {
  const metadata = call.metadata;
  if (typeof metadata === 'object' && metadata !== null) metadataSetter.set(metadata, 'traceparent', traceparent);
}
