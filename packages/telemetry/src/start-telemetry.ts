import { randomUUID } from 'node:crypto';
import { context, metrics, propagation, trace, type Attributes } from '@opentelemetry/api';
import { getStringListFromEnv } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { ParentBasedSampler, type Sampler, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { RpcError, type Filter, type Transport } from '@svc/core';
import { sdkDisabled, type StartedSdk, type TelemetryFilterOptions } from './filter-options.js';
import { observeTransport } from './observe-transport.js';
import { PrometheusEndpoint, type PrometheusOptions } from './prometheus-endpoint.js';
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_VERSION } from './semconv.js';
import { RootRatioSampler } from './root-sampler.js';
import { clientFiltersWith, serverFiltersWith, type ClientTelemetryFilters } from './telemetry-filters.js';

export interface TelemetryOptions extends Pick<TelemetryFilterOptions, 'tracing' | 'metrics' | 'attempts' | 'messagingSystem' | 'samplerAttributes'> {
  /** The service's name (`service.name`). OTEL_SERVICE_NAME, when set, wins: operators rename by environment. */
  serviceName?: string;
  /** `service.version`. */
  serviceVersion?: string;
  /** More resource attributes; OTEL_RESOURCE_ATTRIBUTES adds to them and wins on a clash. */
  resourceAttributes?: Attributes;
  /**
   * false: start nothing, and every filter list the handle gives is empty (telemetry costs
   * nothing). Default: on, unless OTEL_SDK_DISABLED=true.
   */
  enabled?: boolean;
  /** Where spans go (batched). Default: what OTEL_TRACES_EXPORTER says, OTLP over HTTP (protobuf) if nothing. */
  traceExporter?: SpanExporter;
  /** Span processors, instead of `traceExporter` (an InMemorySpanExporter in a SimpleSpanProcessor in tests). */
  spanProcessors?: SpanProcessor[];
  /**
   * Which calls are traced: a Sampler, or a ratio for "parent based, that ratio of the new
   * traces". Default: OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, all of them if unset.
   */
  sampler?: Sampler | number;
  /** Metric readers. With this or `prometheus`, OTEL_METRICS_EXPORTER is not read. */
  metricReaders?: IMetricReader[];
  /** A Prometheus scrape endpoint (true: port 9464 on every interface, at /metrics). */
  prometheus?: boolean | PrometheusOptions;
  /** Other OpenTelemetry instrumentations to register (http, pg, …). */
  instrumentations?: NodeSDKConfiguration['instrumentations'];
}

/** A started SDK, and the @svc filters that feed it. */
export interface Telemetry {
  /** False when OTEL_SDK_DISABLED or `enabled: false` kept it off. */
  readonly enabled: boolean;
  readonly tracing: boolean;
  readonly metrics: boolean;
  /** Where Prometheus scrapes, when `prometheus` was asked for. */
  readonly prometheusUrl: string | undefined;
  /** The client filters (`new Client({ ...telemetry.clientFilters(), transport, registry })`); empty when off. */
  clientFilters(): ClientTelemetryFilters;
  /** The server filters (`new Server({ filters: telemetry.serverFilters(), … })`); empty when off. */
  serverFilters(): Filter[];
  /** The transport with connection and buffer gauges for its listeners (see observeTransport). */
  observeTransport<T extends Transport>(transport: T): T;
  /** Exports what is buffered now (spans, metrics). */
  forceFlush(): Promise<void>;
  /** Flushes, stops the exporters and the Prometheus endpoint, and unregisters the SDK. Call once, at the end. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry Node SDK (AsyncLocalStorage context, W3C trace context and baggage,
 * the exporters of OTEL_* variables or of the options) with the service's resource, and gives
 * the filters that trace and measure @svc clients and servers. Call it before making clients
 * and servers (the filters take the SDK's meter then), and `shutdown()` at the end.
 */
export async function startTelemetry(options: TelemetryOptions = {}): Promise<Telemetry> {
  if (!(options.enabled ?? !sdkDisabled())) return OFF;
  const tracing = (options.tracing ?? true) && (options.traceExporter !== undefined || options.spanProcessors !== undefined || getStringListFromEnv('OTEL_TRACES_EXPORTER')?.[0] !== 'none');
  const explicitReaders = options.metricReaders !== undefined || (options.prometheus !== undefined && options.prometheus !== false);
  const metering = (options.metrics ?? true) && (explicitReaders || !(getStringListFromEnv('OTEL_METRICS_EXPORTER') ?? []).includes('none'));
  if (!tracing && !metering) return OFF;

  const prometheus = metering && options.prometheus !== undefined && options.prometheus !== false ? await PrometheusEndpoint.start(options.prometheus === true ? {} : options.prometheus) : undefined;
  const config: Partial<NodeSDKConfiguration> = {
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_INSTANCE_ID]: randomUUID(), ...(options.serviceVersion === undefined ? {} : { [ATTR_SERVICE_VERSION]: options.serviceVersion }), ...options.resourceAttributes })),
    instrumentations: options.instrumentations ?? [],
  };
  const serviceName = process.env.OTEL_SERVICE_NAME || options.serviceName;
  if (serviceName !== undefined) config.serviceName = serviceName;
  // An empty list registers no provider at all: that signal costs nothing.
  if (!tracing) config.spanProcessors = [];
  else if (options.spanProcessors !== undefined) config.spanProcessors = options.spanProcessors;
  else if (options.traceExporter !== undefined) config.traceExporter = options.traceExporter;
  if (options.sampler !== undefined) config.sampler = typeof options.sampler === 'number' ? ratioSampler(options.sampler) : options.sampler;
  const ratio = typeof options.sampler === 'number' ? options.sampler : undefined;
  if (!metering) config.metricReaders = [];
  else if (explicitReaders) config.metricReaders = [...(prometheus === undefined ? [] : [prometheus.reader]), ...(options.metricReaders ?? [])];

  const sdk = new NodeSDK(config);
  sdk.start();
  // The filters may write and read an unsampled traceparent themselves only if the propagator would do the same.
  const sdkKnown: StartedSdk = { rootRatio: ratio, w3c: w3cOnly(propagation.fields()) };
  const filterOptions: TelemetryFilterOptions = { enabled: true, tracing, metrics: metering, attempts: options.attempts, messagingSystem: options.messagingSystem, samplerAttributes: options.samplerAttributes };
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    tracing,
    metrics: metering,
    prometheusUrl: prometheus?.url,
    clientFilters: () => clientFiltersWith(filterOptions, sdkKnown),
    serverFilters: () => serverFiltersWith(filterOptions, sdkKnown),
    observeTransport: (transport) => (metering ? observeTransport(transport, { enabled: true }) : transport),
    forceFlush: () => forceFlush(),
    shutdown: () =>
      (stopped ??= (async () => {
        try {
          await sdk.shutdown();
        } finally {
          await prometheus?.close();
          // Leave the process as it was: a later startTelemetry (a test, a restart) registers anew.
          trace.disable();
          metrics.disable();
          propagation.disable();
          context.disable();
        }
      })()),
  };
}

function ratioSampler(ratio: number): Sampler {
  if (!(ratio >= 0 && ratio <= 1)) throw new RpcError('INVALID_ARGUMENT', `sampler: a ratio from 0 to 1, got ${String(ratio)}`);
  return new ParentBasedSampler({ root: new RootRatioSampler(ratio) });
}

/** Whether a propagator with these fields writes the W3C trace context and at most baggage (OTEL_PROPAGATORS' default). */
function w3cOnly(fields: readonly string[]): boolean {
  return fields.includes('traceparent') && fields.every((field) => field === 'traceparent' || field === 'tracestate' || field === 'baggage');
}

interface Flushable {
  forceFlush?(): Promise<void>;
  getDelegate?(): Flushable;
}

async function forceFlush(): Promise<void> {
  const tracer = trace.getTracerProvider() as Flushable;
  await Promise.all([(tracer.getDelegate?.() ?? tracer).forceFlush?.(), (metrics.getMeterProvider() as Flushable).forceFlush?.()]);
}

const OFF: Telemetry = Object.freeze({
  enabled: false,
  tracing: false,
  metrics: false,
  prometheusUrl: undefined,
  clientFilters: () => ({ filters: [], attemptFilters: [] }),
  serverFilters: () => [],
  observeTransport: <T extends Transport>(transport: T) => transport,
  forceFlush: async () => {},
  shutdown: async () => {},
});
