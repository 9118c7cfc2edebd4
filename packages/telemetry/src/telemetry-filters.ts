import type { AttemptCall, Filter } from '@svc/core';
import { ClientTelemetry } from './client-telemetry.js';
import { resolveFilterOptions, UNKNOWN_SDK, type StartedSdk, type TelemetryFilterOptions } from './filter-options.js';
import { ServerTelemetry } from './server-telemetry.js';

/** The client's telemetry filters, to spread into ClientOptions: `new Client({ ...filters, transport, registry })`. */
export interface ClientTelemetryFilters {
  /** One call filter: the call's span and metrics, a producer span for each publish. */
  readonly filters: Filter[];
  /** One attempt filter: a span per attempt, the attempts-per-call count. Empty with `attempts: false`. */
  readonly attemptFilters: Filter<AttemptCall>[];
}

/**
 * The filters that trace and measure a Client's calls and publishes. With telemetry off
 * (`enabled: false`, OTEL_SDK_DISABLED=true, or neither tracing nor metrics) both lists are
 * empty, and a Client with no filters costs what it always did. Put them first among your own
 * filters, so the span covers the others.
 */
export function clientTelemetryFilters(options: TelemetryFilterOptions = {}): ClientTelemetryFilters {
  return clientFiltersWith(options, UNKNOWN_SDK);
}

/** The filter that traces and measures a Server's calls and event deliveries; none with telemetry off. */
export function serverTelemetryFilters(options: TelemetryFilterOptions = {}): Filter[] {
  return serverFiltersWith(options, UNKNOWN_SDK);
}

/** @internal startTelemetry's, with what it knows of the SDK it started (filter-options.ts). */
export function clientFiltersWith(options: TelemetryFilterOptions, sdk: StartedSdk): ClientTelemetryFilters {
  const resolved = resolveFilterOptions(options, sdk);
  if (resolved === undefined) return { filters: [], attemptFilters: [] };
  const telemetry = new ClientTelemetry(resolved);
  return { filters: [telemetry.callFilter], attemptFilters: telemetry.attemptFilter === undefined ? [] : [telemetry.attemptFilter] };
}

/** @internal As clientFiltersWith, for a server. */
export function serverFiltersWith(options: TelemetryFilterOptions, sdk: StartedSdk): Filter[] {
  const resolved = resolveFilterOptions(options, sdk);
  return resolved === undefined ? [] : [new ServerTelemetry(resolved).filter];
}
