import { metrics, propagation, trace, type MeterProvider, type TextMapPropagator, type TracerProvider } from '@opentelemetry/api';
import { getBooleanFromEnv } from '@opentelemetry/core';

/** What the telemetry filters record, and where to. Every field is optional. */
export interface TelemetryFilterOptions {
  /**
   * false: the functions return no filters at all, so telemetry costs nothing. Default: on,
   * unless OTEL_SDK_DISABLED=true.
   */
  enabled?: boolean;
  /** Spans, and the W3C trace context carried in call and event metadata. Default true. */
  tracing?: boolean;
  /** RPC and messaging metrics. Default true. */
  metrics?: boolean;
  /**
   * Client: an attempt filter for a span per attempt of a recorded call. Calls that are not
   * recorded turn it off for themselves (OutgoingCall.observeAttempts), so only sampled calls
   * pay for the fail mode's runner (docs/fail-modes.md); false leaves it out. Default true.
   */
  attempts?: boolean;
  /** `messaging.system` of events. Default 'svc'. */
  messagingSystem?: string;
  /**
   * Give spans their attributes when they start, for a sampler that decides on attributes. It
   * costs a copy of them for every call, sampled or not; by default they are set once a span is
   * known to be recorded. Default false.
   */
  samplerAttributes?: boolean;
  /** Default: the global one (`trace.getTracerProvider()`, set by startTelemetry). */
  tracerProvider?: TracerProvider;
  /** Default: the global one (`metrics.getMeterProvider()`): make the filters after the SDK started. */
  meterProvider?: MeterProvider;
  /** Default: the global propagator (W3C trace context and baggage once the SDK started). */
  propagator?: TextMapPropagator;
}

/** Injects and extracts; the global `propagation` API and a TextMapPropagator both fit. */
export type Propagator = Pick<TextMapPropagator, 'inject' | 'extract'>;

/** The options with their defaults in place, or undefined when telemetry is off altogether. */
export interface ResolvedFilterOptions {
  readonly tracerProvider: TracerProvider | undefined;
  readonly meterProvider: MeterProvider | undefined;
  readonly propagator: Propagator;
  readonly attempts: boolean;
  readonly messagingSystem: string;
  readonly samplerAttributes: boolean;
  /**
   * The ratio of new traces when startTelemetry built the sampler (RootRatioSampler) and the
   * propagator is W3C's: then the client filter draws a new trace's decision itself, and one it
   * does not sample costs no SDK span (client-telemetry.ts). Undefined otherwise.
   */
  readonly rootRatio: number | undefined;
  /** The propagator is the global one and writes only W3C trace context and baggage: the server may read an unsampled traceparent itself. */
  readonly w3c: boolean;
}

/** OTEL_SDK_DISABLED, read as the SDK reads it. */
export function sdkDisabled(): boolean {
  return getBooleanFromEnv('OTEL_SDK_DISABLED') === true;
}

/** What startTelemetry knows of the SDK it started; nothing for filters made on an SDK of the user's. */
export interface StartedSdk {
  /** The ratio of new traces, when it built the sampler from one (RootRatioSampler). */
  readonly rootRatio: number | undefined;
  /** The global propagator writes only W3C trace context and baggage. */
  readonly w3c: boolean;
}

export const UNKNOWN_SDK: StartedSdk = { rootRatio: undefined, w3c: false };

export function resolveFilterOptions(options: TelemetryFilterOptions, sdk: StartedSdk = UNKNOWN_SDK): ResolvedFilterOptions | undefined {
  if (!(options.enabled ?? !sdkDisabled())) return undefined;
  const tracing = options.tracing ?? true;
  const metering = options.metrics ?? true;
  if (!tracing && !metering) return undefined;
  return {
    tracerProvider: tracing ? (options.tracerProvider ?? trace.getTracerProvider()) : undefined,
    meterProvider: metering ? (options.meterProvider ?? metrics.getMeterProvider()) : undefined,
    propagator: options.propagator ?? propagation,
    attempts: options.attempts ?? true,
    messagingSystem: options.messagingSystem ?? 'svc',
    samplerAttributes: options.samplerAttributes ?? false,
    // Only with the global tracer provider and propagator, which are the ones startTelemetry set up.
    rootRatio: sdk.w3c && tracing && options.tracerProvider === undefined && options.propagator === undefined ? sdk.rootRatio : undefined,
    w3c: sdk.w3c && options.propagator === undefined,
  };
}
