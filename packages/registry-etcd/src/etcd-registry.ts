import { ExponentialBackoff } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import { consoleLogger, type Logger, type Registrar, type Registration, type Registry, type ServiceInstance, type ServiceNode } from '@svc/core';
import { errors } from '@svc/core/transport';
import { resolveOptions, type EtcdRegistryOptions, type ResolvedOptions } from './etcd-options.js';
import { isSegment, recordOf } from './etcd-record.js';
import { LeaseRegistration } from './lease-registration.js';
import { readService } from './service-read.js';
import { ServiceWatch } from './service-watch.js';

export interface EtcdRegistry extends Registry, Registrar {
  /** The nodes of a service now: a range read of its prefix. Rejects (registryUnreachable) when etcd does not answer. */
  lookup(service: string): Promise<readonly ServiceNode[]>;
  /** Follows a service with a prefix watch: its nodes once read, then after every change. */
  watch(service: string, listener: (nodes: readonly ServiceNode[]) => void): () => void;
  /** Writes the instances under one lease with keep-alive; deregister() revokes it. */
  register(instances: readonly ServiceInstance[]): Promise<Registration>;
  /** Stops every watch, revokes the leases still held, and closes the etcd connections. */
  close(): Promise<void>;
}

const NONE: readonly ServiceNode[] = Object.freeze([]);

/**
 * Service discovery on etcd v3: a Registry for clients (lookup, watch) and a Registrar for
 * servers, on one etcd3 client. Keys are `<prefix>/<service>/<instance>`, values JSON
 * (docs/discovery.md).
 */
export function etcdRegistry(options: EtcdRegistryOptions): EtcdRegistry {
  return new EtcdRegistryImpl(options);
}

class EtcdRegistryImpl implements EtcdRegistry {
  private readonly etcd: Etcd3;
  private readonly options: ResolvedOptions;
  private readonly logger: Logger;
  private readonly watches = new Map<string, ServiceWatch>();
  private readonly registrations = new Set<LeaseRegistration>();
  private closed = false;

  constructor(options: EtcdRegistryOptions) {
    this.options = resolveOptions(options);
    this.logger = options.logger ?? consoleLogger;
    const callTimeout = this.options.callTimeout;
    const etcdOptions: IOptions = {
      hosts: this.options.hosts,
      auth: options.auth,
      credentials: options.credentials,
      dialTimeout: callTimeout,
      // Every unary request has a deadline; streams (watch, keep-alive) do not.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeout }),
      // Back within seconds after an outage, not etcd3's default of up to 30 s.
      // (etcd3 types this slot as an IBackoff but calls next() on it first, as on the factory it is.)
      faultHandling: { watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: this.options.maxReconnectDelay }) as never },
      ...options.etcd,
    };
    this.etcd = new Etcd3(etcdOptions);
  }

  async lookup(service: string): Promise<readonly ServiceNode[]> {
    if (this.closed) throw errors.registryUnreachable(this.describe(), 'the registry is closed');
    if (!isSegment(service)) return NONE;
    try {
      const read = await readService(this.etcd, service, this.options);
      return Object.freeze([...read.nodes.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, node]) => node));
    } catch (error) {
      throw errors.registryUnreachable(this.describe(), (error as Error)?.message ?? String(error));
    }
  }

  watch(service: string, listener: (nodes: readonly ServiceNode[]) => void): () => void {
    const own = (nodes: readonly ServiceNode[]): void => listener(nodes); // one entry per watch call
    if (this.closed || !isSegment(service)) {
      own(NONE);
      return () => {};
    }
    let watch = this.watches.get(service);
    if (watch === undefined) this.watches.set(service, (watch = new ServiceWatch(this.etcd, service, this.options, this.logger)));
    watch.add(own);
    const followed = watch;
    return () => {
      followed.remove(own);
      if (followed.idle && this.watches.get(service) === followed) {
        followed.stop();
        this.watches.delete(service);
      }
    };
  }

  async register(instances: readonly ServiceInstance[]): Promise<Registration> {
    if (this.closed) throw errors.registryUnreachable(this.describe(), 'the registry is closed');
    const started = new Date().toISOString();
    const entries = instances.map((i) => recordOf(this.options.prefix, i, started));
    const registration: LeaseRegistration = new LeaseRegistration(this.etcd, entries, this.options.ttlSeconds, this.options.callTimeout, this.logger, () => this.registrations.delete(registration));
    try {
      await registration.start();
    } catch (error) {
      throw errors.registryUnreachable(this.describe(), (error as Error)?.message ?? String(error));
    }
    this.registrations.add(registration);
    return registration;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of this.watches.values()) watch.stop();
    this.watches.clear();
    await Promise.all([...this.registrations].map((r) => r.deregister().catch(() => {})));
    this.etcd.close();
  }

  private describe(): string {
    return `etcd at ${this.options.hosts.join(', ')}`;
  }
}
