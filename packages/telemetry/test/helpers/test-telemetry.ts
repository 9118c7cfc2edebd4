import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { MetricReader, type DataPoint, type Histogram, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Attributes } from '@opentelemetry/api';
import { startTelemetry, type Telemetry, type TelemetryOptions } from '../../src/index.js';

/** A reader that exports nothing: the test collects when it wants to look. */
export class CollectingReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface TestTelemetry {
  readonly telemetry: Telemetry;
  readonly spans: InMemorySpanExporter;
  readonly reader: CollectingReader;
}

/** startTelemetry with spans kept in memory and metrics read on demand. */
export async function startTestTelemetry(options: TelemetryOptions = {}): Promise<TestTelemetry> {
  const spans = new InMemorySpanExporter();
  const reader = new CollectingReader();
  const telemetry = await startTelemetry({ serviceName: 'shop-client', spanProcessors: [new SimpleSpanProcessor({ exporter: spans })], metricReaders: [reader], ...options });
  return { telemetry, spans, reader };
}

/**
 * The finished spans named `name`, once every export is done (a span ended just now waits for
 * the resource's asynchronous attributes, host id and the like, before it reaches the exporter).
 */
export async function finished(t: TestTelemetry, name?: string): Promise<ReadableSpan[]> {
  await t.telemetry.forceFlush();
  return t.spans.getFinishedSpans().filter((s) => name === undefined || s.name === name);
}

/** The data points of one metric, as collected now. */
export async function points(reader: MetricReader, name: string): Promise<DataPoint<unknown>[]> {
  const { resourceMetrics } = await reader.collect();
  return metricsOf(resourceMetrics, name);
}

function metricsOf(resourceMetrics: ResourceMetrics, name: string): DataPoint<unknown>[] {
  const found: DataPoint<unknown>[] = [];
  for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) if (metric.descriptor.name === name) found.push(...(metric.dataPoints as DataPoint<unknown>[]));
  return found;
}

/** The point whose attributes include all of `match`. */
export function pointWith<T>(all: DataPoint<T>[], match: Attributes): DataPoint<T> | undefined {
  return all.find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
}

export type HistogramPoint = DataPoint<Histogram>;
