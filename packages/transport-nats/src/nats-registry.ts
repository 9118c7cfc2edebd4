import type { KvEntry, QueuedIterator } from 'nats';
import { consoleLogger, type Logger, type Registry, type ServiceNode } from '@svc/core';
import { registryUnavailable } from './nats-errors.js';
import { parseAddress, formatAddress } from './address.js';
import type { NatsConnectionOptions } from './connection-options.js';
import { DEFAULT_BUCKET, MAX_RECORD_BYTES, openBucket, readEntry, recordKey, type RegistryRecord } from './registry-record.js';
import { ConnectionPool, type SharedConnection } from './shared-connection.js';

export interface NatsRegistryOptions extends NatsConnectionOptions {
  /** The NATS servers that hold the registry bucket, e.g. 'nats://127.0.0.1:4222'. */
  servers: string | string[];
  /** KV bucket. Default 'svc_registry'. */
  bucket?: string;
  /**
   * Copies of the bucket a JetStream cluster keeps (1–5), used when this process is the one that
   * creates it. Default 1: the registry then lives on one node, and while that node is down longer
   * than the records' ttl every instance drops out. Use 3 on a 3-node cluster (docs/deployment.md).
   */
  replicas?: number;
  /**
   * 'group' (default): one logical address per service and NATS, and NATS queue groups spread the
   * calls over the instances. 'instances': every instance's own address, and the client's selector
   * picks (weights, tags, hashing). Instances registered with an address that is not NATS (a TCP
   * server's, through natsRegistrar) are listed one by one in both modes.
   */
  mode?: 'group' | 'instances';
  /** Only instances whose version starts with this, e.g. '1.' */
  version?: string;
  /** The most records kept, all services together; keys beyond are ignored (a flood of writes stays bounded). Default 10 000. */
  maxRecords?: number;
  /** Where the registry says that the bucket holds more than maxRecords. Default consoleLogger. */
  logger?: Logger;
}

export interface RegistryInstance extends ServiceNode {
  readonly service: string;
  readonly instance: string;
  readonly started: string;
}

interface Live {
  readonly record: RegistryRecord;
  /** The value as written, to tell a refresh from a change. */
  readonly raw: string;
  readonly revision: number;
  /** Local time of the last refresh seen: local clocks only, so hosts need not agree on time. */
  seenAt: number;
}

export interface NatsRegistry extends Registry {
  /** The nodes of a service from memory, once the bucket was read; rejects while NATS cannot be reached. */
  lookup(service: string): Promise<readonly ServiceNode[]>;
  /** Follows a service: its nodes now (once the bucket was read), then after every change. */
  watch(service: string, listener: (nodes: readonly ServiceNode[]) => void): () => void;
  /** The live instances of a service (all services when omitted), as the watch sees them now. */
  instances(service?: string): RegistryInstance[];
  /** Called after every change the watch sees (a register, deregister, expiry, or a record rewritten with other values). */
  onChange(listener: () => void): () => void;
  /** Resolves once the watch has delivered the bucket's current contents. */
  ready(): Promise<void>;
  /** Stops watching and closes the registry's NATS connection. */
  close(): Promise<void>;
}

/** How long the first contents of the bucket may take to arrive before the registry goes on with what it has. */
const SNAPSHOT_TIMEOUT_MS = 5_000;

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
  private readonly maxRecords: number;
  private live = new Map<string, Live>();
  private readonly listeners = new Set<() => void>();
  private readonly watchers = new Map<string, Set<(nodes: readonly ServiceNode[]) => void>>();
  /** Services whose records changed since watchers were last told. */
  private readonly dirty = new Set<string>();
  private flushQueued = false;
  private watcher: QueuedIterator<KvEntry> | undefined;
  private initial: Promise<void>;
  /** The bucket's contents were read once: lookups and watches may answer. */
  private initialized = false;
  /** While the connection is down: expiry stops, since no refresh can be seen. */
  private downSince = 0;
  private readonly pruner: NodeJS.Timeout;
  private unwatch: () => void = () => {};
  private floodReported = false;
  private closed = false;

  constructor(servers: string[], options: NatsRegistryOptions) {
    this.options = options;
    this.maxRecords = options.maxRecords !== undefined && options.maxRecords >= 1 ? Math.floor(options.maxRecords) : 10_000;
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
    this.unwatch = shared.on((event) => {
      if (event === 'down' && this.downSince === 0) this.downSince = Date.now();
      if (event !== 'up' || this.closed) return;
      // The time away does not count against the records' ttl: none could be refreshed meanwhile.
      // Then the watch starts over from the bucket's current contents.
      if (this.downSince !== 0) {
        const away = Date.now() - this.downSince;
        for (const entry of this.live.values()) entry.seenAt += away;
        this.downSince = 0;
      }
      this.initial = this.startWatch();
    });
    return shared;
  }

  private startWatch(): Promise<void> {
    const started = this.watchBucket();
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
    // What memory holds may be stale by now: say so, and a client cache keeps its last list.
    if (!this.shared.connected) throw registryUnavailable('the connection to NATS is down; reconnecting');
    return this.nodesOf(service);
  }

  watch(service: string, listener: (nodes: readonly ServiceNode[]) => void): () => void {
    let set = this.watchers.get(service);
    if (set === undefined) this.watchers.set(service, (set = new Set()));
    const own = (nodes: readonly ServiceNode[]): void => listener(nodes); // one entry per watch call
    set.add(own);
    if (this.initialized) own(this.nodesOf(service));
    return () => {
      set.delete(own);
      if (set.size === 0 && this.watchers.get(service) === set) this.watchers.delete(service);
    };
  }

  /** The nodes of a service as lookup and watch answer them, by mode. */
  private nodesOf(service: string): readonly ServiceNode[] {
    const instances = this.instances(service);
    if (this.options.mode === 'instances') return Object.freeze(instances.map(nodeOf));
    const out: ServiceNode[] = [];
    const byAddress = new Map<string, { address: string; version: string | undefined; weight: number }>();
    for (const i of instances) {
      // Only NATS addresses share a queue group; any other is an instance of its own.
      if (!i.address.startsWith('nats://')) {
        out.push(nodeOf(i));
        continue;
      }
      const logical = formatAddress(parseAddress(i.address).servers);
      const seen = byAddress.get(logical);
      byAddress.set(logical, { address: logical, version: i.version, weight: (seen?.weight ?? 0) + (i.weight ?? 1) });
    }
    for (const g of byAddress.values()) out.push(Object.freeze({ address: g.address, version: g.version, weight: g.weight, tags: {} }));
    return Object.freeze(out);
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
    this.watchers.clear();
    await this.pool.release(this.shared);
  }

  private changed(service: string): void {
    this.dirty.add(service);
    if (this.flushQueued) return;
    this.flushQueued = true;
    // Once per tick: a burst of writes (a snapshot, a flood) tells each watcher once.
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.closed || this.dirty.size === 0) return;
    const services = [...this.dirty];
    this.dirty.clear();
    for (const service of services) {
      const set = this.watchers.get(service);
      if (set === undefined || set.size === 0) continue;
      const nodes = this.nodesOf(service);
      for (const listener of [...set]) listener(nodes);
    }
    for (const listener of [...this.listeners]) listener();
  }

  private prune(): void {
    if (this.downSince !== 0) return;
    const now = Date.now();
    for (const [key, { record, seenAt }] of this.live) {
      if (now - seenAt > record.ttl) {
        this.live.delete(key);
        this.changed(record.service);
      }
    }
  }

  /**
   * Watches the bucket: first its current contents (taken as a whole, see takeSnapshot), then
   * every write as it happens. Resolves once the contents are in.
   */
  private async watchBucket(): Promise<void> {
    const nc = await this.shared.ready;
    const kv = await openBucket(nc, this.options.bucket ?? DEFAULT_BUCKET, this.options.replicas);
    this.watcher?.stop();
    const snapshot: KvEntry[] = [];
    let live = false;
    let iterator: QueuedIterator<KvEntry> | undefined;
    let sawInit = false;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const finish = (): void => {
      if (live) return;
      live = true;
      this.takeSnapshot(snapshot);
      resolveDone();
    };
    // nats.js calls initializedFn in order after the contents when it is queued with them, or at
    // once when they came before the watch returned (then still unread): entry.delta 0 marks the
    // last of them.
    iterator = await kv.watch({
      key: '>',
      initializedFn: () => {
        sawInit = true;
        if (iterator !== undefined) finish();
      },
    });
    this.watcher = iterator;
    const watching = iterator;
    if (sawInit && watching.getPending() === 0) finish(); // an empty bucket
    const timer = setTimeout(finish, SNAPSHOT_TIMEOUT_MS);
    timer.unref();
    void (async () => {
      for await (const entry of watching) {
        if (this.watcher !== watching) break;
        if (live) {
          this.apply(entry);
        } else {
          snapshot.push(entry);
          if (entry.delta === 0) finish();
        }
      }
    })().catch(() => {});
    await done;
    clearTimeout(timer);
  }

  /**
   * The bucket's contents replace what was known. A record keeps the time it was last seen when it
   * is the same revision as before (a restarted watch replays it); one not seen before is aged by
   * the bucket's own timestamps, against the newest write in the bucket (one server clock), so a
   * record left by an instance that died long ago is not taken as fresh.
   */
  private takeSnapshot(entries: readonly KvEntry[]): void {
    const now = Date.now();
    let newest = 0;
    for (const e of entries) if (e.operation === 'PUT') newest = Math.max(newest, e.created.getTime());
    const next = new Map<string, Live>();
    for (const e of entries) {
      const read = e.operation === 'PUT' ? this.read(e) : undefined;
      if (read === undefined) {
        next.delete(e.key);
        continue;
      }
      if (!next.has(e.key) && next.size >= this.maxRecords) {
        this.flooded();
        continue;
      }
      const before = this.live.get(e.key);
      const seenAt = before !== undefined && before.revision === e.revision ? before.seenAt : now - Math.max(0, newest - e.created.getTime());
      next.set(e.key, { ...read, revision: e.revision, seenAt });
    }
    const old = this.live;
    this.live = next;
    for (const [key, entry] of next) if (old.get(key)?.raw !== entry.raw) this.changed(entry.record.service);
    for (const [key, entry] of old) if (!next.has(key)) this.changed(entry.record.service);
    this.initialized = true;
    this.prune();
    // Watchers that came before the first contents get them now, also those of empty services.
    for (const service of this.watchers.keys()) this.changed(service);
  }

  /** One write after the contents were read. */
  private apply(entry: KvEntry): void {
    const before = this.live.get(entry.key);
    const read = entry.operation === 'PUT' ? this.read(entry) : undefined;
    if (read === undefined) {
      // A delete, or not a record (anyone who may write the bucket may write anything): ignored,
      // and it replaces what the key held before, as a PUT does.
      if (before !== undefined && this.live.delete(entry.key)) this.changed(before.record.service);
      return;
    }
    if (before === undefined && this.live.size >= this.maxRecords) return this.flooded();
    this.live.set(entry.key, { ...read, revision: entry.revision, seenAt: Date.now() });
    if (before?.raw !== read.raw) {
      this.changed(read.record.service);
      if (before !== undefined && before.record.service !== read.record.service) this.changed(before.record.service);
    }
  }

  /** The record a write holds, or undefined: too large, not a record, or under another record's key. */
  private read(entry: KvEntry): { record: RegistryRecord; raw: string } | undefined {
    if (entry.length > MAX_RECORD_BYTES) return undefined;
    const read = readEntry(entry.value);
    if (read === undefined || recordKey(read.record.service, read.record.instance) !== entry.key) return undefined;
    return read;
  }

  private flooded(): void {
    if (this.floodReported) return;
    this.floodReported = true;
    (this.options.logger ?? consoleLogger).warn(`natsRegistry: the bucket holds more than maxRecords (${this.maxRecords}) records; further keys are ignored until some go (check what writes to the bucket, or raise maxRecords)`);
  }
}

function nodeOf(i: RegistryInstance): ServiceNode {
  return Object.freeze({ address: i.address, version: i.version, weight: i.weight, tags: i.tags });
}
