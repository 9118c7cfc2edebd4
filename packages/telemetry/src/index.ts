/// <reference types="node" preserve="true" />
export { startTelemetry, type Telemetry, type TelemetryOptions } from './start-telemetry.js';
export { clientTelemetryFilters, serverTelemetryFilters, type ClientTelemetryFilters } from './telemetry-filters.js';
export type { TelemetryFilterOptions } from './filter-options.js';
export type { PrometheusOptions } from './prometheus-endpoint.js';
export { observeTransport, type ObserveTransportOptions } from './observe-transport.js';
export { observeResilience, type ObserveResilienceOptions, type ObservedBreakers, type ObservedShedder } from './observe-resilience.js';
export { pinoLogger, traceLogFields, type TraceLogFields } from './pino-logger.js';
export { metadataGetter, metadataSetter } from './metadata-carrier.js';
export { clientMarksError, serverMarksError, type StatusCode } from './status.js';
export { RPC_SYSTEM_NAME } from './semconv.js';
