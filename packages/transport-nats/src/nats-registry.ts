import type { KvEntry, QueuedIterator } from 'nats';
import type { Registry, ServiceNode } from '@svc/core';
import { registryUnavailable } from './nats-errors.js';
import { parseAddress, formatAddress } from './address.js';
import type { NatsConnectionOptions } from './connection-options.js';
import { DEFAULT_BUCKET, openBucket, readRecord, type RegistryRecord } from './registry-record.js';
import { ConnectionPool, type SharedConnection } from './shared-connection.js';

export interface NatsRegistryOptions extends NatsConnectionOptions {
  /** The NATS servers that hold the registry bucket, e.g. 'nats://127.0.0.1:4222'. */
  servers: string | string[];
  /** KV bucket. Default 'svc_registry'. */
  bucket?: string;
  /**
   * 'group' (default): one logical address per service and NATS, and NATS queue groups spread the
   * calls over the instances. 'instances': every instance's own address, and the client's selector
   * picks (weights, tags, hashing).
   */
  mode?: 'group' | 'instances';
  /** Only instances whose version starts with this, e.g. '1.' */
  version?: string;
}

export interface RegistryInstance extends ServiceNode {
  readonly service: string;
  readonly instance: string;
  readonly started: string;
}

interface Live {
  record: RegistryRecord;
  /** Local time of the last refresh seen: local clocks only, so hosts need not agree on time. */
  seenAt: number;
}

export interface NatsRegistry extends Registry {
  /** The live instances of a service (all services when omitted), as the watch sees them now. */
  instances(service?: string): RegistryInstance[];
  /** Called after every change the watch sees (a register, refresh, deregister or expiry). */
  onChange(listener: () => void): () => void;
  /** Resolves once the watch has delivered the bucket's current contents. */
  ready(): Promise<void>;
  /** Stops watching and closes the registry's NATS connection. */
  close(): Promise<void>;
}

/**
 * The client side of the registry on NATS JetStream KV: it watches the bucket, so lookups are
 * answered from memory and follow registrations, deregistrations and expiries as they happen.
 */
export function natsRegistry(options: NatsRegistryOptions): NatsRegistry {
  const servers = parseAddress(Array.isArray(options.servers) ? options.servers.join(',') : options.servers).servers;
  return new KvRegistry(servers, options);
}

class KvRegistry implements NatsRegistry {
  private readonly pool: ConnectionPool;
  private readonly servers: string[];
  private shared: SharedConnection;
  private readonly options: NatsRegistryOptions;
  private readonly live = new Map<string, Live>();
  private readonly listeners = new Set<() => void>();
  private watcher: QueuedIterator<KvEntry> | undefined;
  private initial: Promise<void>;
  private readonly pruner: NodeJS.Timeout;
  private unwatch: () => void = () => {};
  private closed = false;

  constructor(servers: string[], options: NatsRegistryOptions) {
    this.options = options;
    this.pool = new ConnectionPool(options);
    this.servers = servers;
    this.shared = this.connect();
    this.initial = this.startWatch();
    this.pruner = setInterval(() => this.prune(), 100);
    this.pruner.unref();
  }

  private connect(): SharedConnection {
    const shared = this.pool.acquire(this.servers.join(','), this.servers);
    this.unwatch();
    // After a reconnect, start the watch again from the bucket's current contents.
    this.unwatch = shared.on((event) => {
      if (event === 'up' && !this.closed) this.initial = this.startWatch();
    });
    return shared;
  }

  private startWatch(): Promise<void> {
    const started = this.watch();
    started.catch(() => {});
    return started;
  }

  ready(): Promise<void> {
    return this.initial;
  }

  async lookup(service: string): Promise<readonly ServiceNode[]> {
    try {
      await this.initial;
    } catch {
      // NATS was not reachable (or the bucket not readable): try again now, once per lookup.
      if (this.closed) throw registryUnavailable('the registry is closed');
      if (this.shared.failed !== undefined) {
        void this.pool.release(this.shared);
        this.shared = this.connect();
      }
      this.initial = this.startWatch();
      try {
        await this.initial;
      } catch (error) {
        throw registryUnavailable((error as Error)?.message ?? String(error));
      }
    }
    const instances = this.instances(service);
    if (this.options.mode === 'instances') return instances;
    const byAddress = new Map<string, ServiceNode>();
    for (const i of instances) {
      const target = parseAddress(i.address);
      const logical = formatAddress(target.servers);
      const seen = byAddress.get(logical);
      byAddress.set(logical, { address: logical, version: i.version, weight: (seen?.weight ?? 0) + (i.weight ?? 1), tags: {} });
    }
    return [...byAddress.values()];
  }

  instances(service?: string): RegistryInstance[] {
    this.prune();
    const out: RegistryInstance[] = [];
    for (const { record: r } of this.live.values()) {
      if (service !== undefined && r.service !== service) continue;
      if (this.options.version !== undefined && !r.version.startsWith(this.options.version)) continue;
      out.push({ service: r.service, instance: r.instance, address: r.address, version: r.version, weight: r.weight, tags: r.tags, started: r.started });
    }
    return out.sort((a, b) => (a.address < b.address ? -1 : 1));
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pruner);
    this.unwatch();
    this.watcher?.stop();
    await this.pool.release(this.shared);
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private prune(): void {
    const now = Date.now();
    let changed = false;
    for (const [key, { record, seenAt }] of this.live) {
      if (now - seenAt > record.ttl) {
        this.live.delete(key);
        changed = true;
      }
    }
    if (changed) this.changed();
  }

  private async watch(): Promise<void> {
    const nc = await this.shared.ready;
    const kv = await openBucket(nc, this.options.bucket ?? DEFAULT_BUCKET);
    this.watcher?.stop();
    let initialized!: () => void;
    const done = new Promise<void>((resolve) => (initialized = resolve));
    const watcher = await kv.watch({ key: '>', initializedFn: () => initialized() });
    this.watcher = watcher;
    void (async () => {
      for await (const entry of watcher) this.apply(entry);
    })().catch(() => {});
    await done;
  }

  private apply(entry: KvEntry): void {
    if (entry.operation !== 'PUT') {
      if (this.live.delete(entry.key)) this.changed();
      return;
    }
    let record: RegistryRecord | undefined;
    try {
      record = readRecord(entry.json<unknown>());
    } catch {
      record = undefined;
    }
    if (record === undefined) {
      // Not a record (anyone who may write the bucket may write anything): ignored, and it
      // replaces what the key held before, as a PUT does.
      if (this.live.delete(entry.key)) this.changed();
      return;
    }
    const isNew = !this.live.has(entry.key);
    this.live.set(entry.key, { record, seenAt: Date.now() });
    if (isNew) this.changed();
  }
}
