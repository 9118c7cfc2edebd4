import type { IOptions } from 'etcd3';
import type { Logger } from '@svc/core';

export interface EtcdRegistryOptions {
  /** etcd client URLs, e.g. 'http://127.0.0.1:2379' or every member of a cluster. */
  hosts: string | string[];
  /** Keys are `<prefix>/<service>/<instance>`. Default '/svc/services'. */
  prefix?: string;
  /**
   * Lease TTL of a registration, in ms (etcd counts whole seconds: rounded up, at least 1 s). An
   * instance that dies without deregistering leaves the registry this long after its last
   * keep-alive. Default 10 000.
   */
  ttl?: number;
  /** The most one etcd request (a lookup, a grant, a revoke) may take, in ms. Default 3 000. */
  callTimeout?: number;
  /** A value longer than this is not a record and is ignored. Default 4 096 bytes. */
  maxValueBytes?: number;
  /** The most instances kept per service; keys beyond are ignored (a flood stays bounded). Default 1 000. */
  maxInstances?: number;
  /** The longest wait between reconnects of the watch stream, in ms. Default 2 000. */
  maxReconnectDelay?: number;
  /** etcd user and password, as etcd3 takes them. */
  auth?: IOptions['auth'];
  /** TLS: root certificate, and client key and certificate, as etcd3 takes them. */
  credentials?: IOptions['credentials'];
  /** Any other etcd3 option, passed through; wins over the above. */
  etcd?: Partial<IOptions>;
  /** Where lost leases, re-registrations and ignored keys are said. Default consoleLogger. */
  logger?: Logger;
}

export interface ResolvedOptions {
  readonly hosts: string[];
  readonly prefix: string;
  readonly ttlSeconds: number;
  readonly callTimeout: number;
  readonly maxValueBytes: number;
  readonly maxInstances: number;
  readonly maxReconnectDelay: number;
}

export function resolveOptions(options: EtcdRegistryOptions): ResolvedOptions {
  const hosts = typeof options.hosts === 'string' ? options.hosts.split(',').map((h) => h.trim()).filter((h) => h !== '') : [...options.hosts];
  return {
    hosts,
    prefix: (options.prefix ?? '/svc/services').replace(/\/+$/, ''),
    ttlSeconds: Math.max(1, Math.ceil(positive(options.ttl, 10_000) / 1000)),
    callTimeout: positive(options.callTimeout, 3_000),
    maxValueBytes: positive(options.maxValueBytes, 4 * 1024),
    maxInstances: Math.floor(positive(options.maxInstances, 1_000)),
    maxReconnectDelay: positive(options.maxReconnectDelay, 2_000),
  };
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}
