/// <reference types="node" preserve="true" />
export { nats, type NatsTransport, type NatsTransportOptions } from './nats-transport.js';
export type { NatsConnectionOptions, NatsSecurityOptions } from './connection-options.js';
export { parseAddress, formatAddress, type NatsAddress } from './address.js';
export { Subjects } from './subjects.js';
export { natsRegistry, type NatsRegistry, type NatsRegistryOptions, type RegistryInstance } from './nats-registry.js';
export type { AnnounceOptions } from './registry-announcer.js';
export { DEFAULT_BUCKET, type RegistryRecord } from './registry-record.js';
export { natsRegistrar, type NatsRegistrar, type NatsRegistrarOptions } from './nats-registrar.js';
