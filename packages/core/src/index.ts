/// <reference types="node" preserve="true" />
import 'reflect-metadata';

export { Service, type ServiceDecorator } from './decorators/service.js';
export { Method, type MethodDecorator } from './decorators/method.js';
export { getServiceDefinition, type ServiceDefinition, type MethodDefinition, type ServiceOptions, type MethodOptions } from './decorators/service-definition.js';

export { Server, type ServerOptions, type ListenOptions } from './server/server.js';
export type { Registrar, Registration, ServiceInstance } from './server/registrar.js';
export { CallContext } from './server/call-context.js';
export { Client, type ClientOptions, type CallOptions, type ClientServiceOptions, type StreamOptions } from './client/client.js';
export type { StreamSource } from './client/client-stream.js';
export { StreamContext, type StreamShape } from './server/stream-context.js';
export { Subscribe, type SubscribeOptions, type SubscribeDecorator } from './decorators/subscribe.js';
export { EventContext } from './events/event-context.js';
export { PublishCall } from './events/publish-call.js';
export type { PublishOptions } from './events/publish.js';
export type { EventCodec, EventSerializers } from './events/event-codec.js';
export { staticRegistry, type Registry, type ServiceNode } from './client/registry.js';
export { memoryRegistry, type MemoryRegistry } from './client/memory-registry.js';
export type { RegistryCacheOptions } from './client/registry-cache.js';
export type { RouteOptions } from './client/node-route.js';
export { roundRobin, randomSelector, type Selector } from './client/selector.js';
export { weightedRoundRobin } from './client/weighted-round-robin.js';
export { consistentHash, keyFromMetadata, keyFromRequest, type ConsistentHashOptions, type HashKey } from './client/consistent-hash.js';
export { peakEwma, type PeakEwmaOptions } from './client/peak-ewma.js';
export { outlierEjection, type OutlierEjectionOptions, type OutlierEjectionSelector } from './client/outlier-ejection.js';
export type { HeartbeatOptions } from './client/heartbeat-prober.js';
export { saysNodeUnwell } from './client/node-health.js';

export { RpcError, type RpcErrorOptions, type Progress } from './errors/rpc-error.js';
export { Code, ALL_CODES, CODE_NUMBERS, codeFromNumber, isRetryableCode } from './errors/codes.js';

export { composeFilters, type Filter, type Call, type Next } from './filter/filter.js';
export type { Metadata } from './metadata.js';
export type { Codec, MethodSerializers } from './codec/codec.js';
export { jsonCodec } from './codec/json-codec.js';
export type { CompressionOptions, CompressionAlgorithm } from './codec/compression.js';
export type { Transport, Channel, Listener, Dispatcher, Peer } from './transport/transport.js';
export { inproc } from './transport/inproc-transport.js';
export { consoleLogger, silentLogger, type Logger } from './logger.js';
export type { int32, uint32, sint32, fixed32, sfixed32, float, double, int64, uint64, sint64, fixed64, sfixed64 } from './scalars.js';
export type { ServiceSchema, EventSchema, MessageSchema, FieldSchema, FieldType, EnumSchema, EnumValueSchema, MethodSchema, ScalarName, MapKeyName } from './codec/protobuf-schema.js';
export { protobufCodec, type ProtobufCodecOptions } from './codec/protobuf-codec.js';
export { schemaJsonCodec, schemaCodecs } from './codec/protobuf-json-codec.js';
export { toProtobufJson } from './codec/protobuf-reflection.js';
export type { InprocOptions } from './transport/inproc-transport.js';
export type { FailMode, FailPolicy, BackoffOptions, MethodPolicy, ServicePolicy } from './client/fail-policy.js';
export type { RetryBudgetOptions } from './client/retry-budget.js';
export { ATTEMPT_METADATA_KEY, type AttemptCall } from './client/attempt.js';
export type { OutgoingCall } from './client/client-call.js';
export { observingAttemptFilter } from './client/observing-filter.js';
export { checkHealth } from './client/health-check.js';
export { Health, HEALTH_SERVICE, type HealthStatus, type HealthCheckRequest, type HealthWatchRequest, type HealthResponse } from './server/health.js';
export { PUSHBACK_METADATA_KEY } from './client/transparent-retry.js';
