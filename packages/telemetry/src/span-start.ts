import { isSpanContextValid, SpanKind, trace, TraceFlags, type Attributes, type Context, type Span, type SpanOptions, type Tracer } from '@opentelemetry/api';

// Made once: the SDK's startSpan needs an options object, and a call should not make one.
const OPTIONS: Readonly<Record<SpanKind, SpanOptions>> = {
  [SpanKind.INTERNAL]: Object.freeze({ kind: SpanKind.INTERNAL }),
  [SpanKind.SERVER]: Object.freeze({ kind: SpanKind.SERVER }),
  [SpanKind.CLIENT]: Object.freeze({ kind: SpanKind.CLIENT }),
  [SpanKind.PRODUCER]: Object.freeze({ kind: SpanKind.PRODUCER }),
  [SpanKind.CONSUMER]: Object.freeze({ kind: SpanKind.CONSUMER }),
};

/**
 * Starts an operation's span under `parent`, or returns undefined when the parent is a span that
 * is not sampled: the trace's decision was made at its root, and the parent's context (which the
 * caller propagates as it is) carries it on. That is what the SDK's default parent-based sampler
 * would decide, without the span it would make for it.
 *
 * The attributes go on the span only once it is known to be recorded: the SDK copies what
 * startSpan is given before it samples, so a call that is not sampled would pay for a copy.
 * `atStart` gives them to startSpan instead, for a sampler that decides on attributes.
 */
export function startSpan(tracer: Tracer, name: string, kind: SpanKind, attributes: Attributes, parent: Context, atStart: boolean): Span | undefined {
  const parentSpan = trace.getSpanContext(parent);
  if (parentSpan !== undefined && (parentSpan.traceFlags & TraceFlags.SAMPLED) === 0 && isSpanContextValid(parentSpan)) return undefined;
  if (atStart) return tracer.startSpan(name, { kind, attributes }, parent);
  const span = tracer.startSpan(name, OPTIONS[kind], parent);
  if (span.isRecording()) span.setAttributes(attributes);
  return span;
}
