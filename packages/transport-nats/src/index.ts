export { nats, type NatsTransport, type NatsTransportOptions } from './nats-transport.js';
export type { NatsConnectionOptions, NatsSecurityOptions } from './connection-options.js';
export { parseAddress, formatAddress, type NatsAddress } from './address.js';
export { Subjects } from './subjects.js';
