/// <reference types="node" preserve="true" />
export { etcdRegistry, type EtcdRegistry } from './etcd-registry.js';
export type { EtcdRegistryOptions } from './etcd-options.js';
export type { EtcdRecord } from './etcd-record.js';
