import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger, ServiceNode } from '@svc/core';
import { nodeOf, servicePrefix } from './etcd-record.js';
import { readService } from './service-read.js';
import type { ResolvedOptions } from './etcd-options.js';

type Listener = (nodes: readonly ServiceNode[]) => void;

/**
 * One service followed in etcd, for all its listeners: a full get of the service's prefix, then a
 * prefix watch from the revision after it. When the watch fails (its revision was compacted while
 * it was away, the stream was cancelled), it starts over with a full get, so no change is lost;
 * while etcd cannot be reached it keeps the last list and tries again with backoff.
 */
export class ServiceWatch {
  private readonly etcd: Etcd3;
  private readonly service: string;
  private readonly options: ResolvedOptions;
  private readonly logger: Logger;
  private readonly listeners = new Set<Listener>();
  private readonly byKey = new Map<string, ServiceNode>();
  private current: readonly ServiceNode[] | undefined = undefined;
  private watcher: Watcher | undefined = undefined;
  private retryTimer: NodeJS.Timeout | undefined = undefined;
  private failures = 0;
  private deliverQueued = false;
  private floodReported = false;
  private stopped = false;
  /** Bumped by each sync: a sync that a newer one replaced drops what it got. */
  private generation = 0;

  constructor(etcd: Etcd3, service: string, options: ResolvedOptions, logger: Logger) {
    this.etcd = etcd;
    this.service = service;
    this.options = options;
    this.logger = logger;
    void this.sync();
  }

  get idle(): boolean {
    return this.listeners.size === 0;
  }

  add(listener: Listener): void {
    this.listeners.add(listener);
    if (this.current !== undefined) listener(this.current);
  }

  remove(listener: Listener): void {
    this.listeners.delete(listener);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.drop();
  }

  /** The full get, then the watch from the revision after it. */
  private async sync(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    this.drop();
    const prefix = servicePrefix(this.options.prefix, this.service);
    try {
      const read = await readService(this.etcd, this.service, this.options);
      if (this.stopped || generation !== this.generation) return;
      this.byKey.clear();
      for (const [key, node] of read.nodes) this.byKey.set(key, node);
      if (read.truncated) this.flooded();
      this.changed();
      // Made at once (not awaited), so that stop() can cancel it even while etcd is away.
      const watcher = this.etcd
        .watch()
        .prefix(prefix)
        .startRevision((BigInt(read.revision) + 1n).toString())
        .watcher();
      this.watcher = watcher;
      watcher
        .on('connected', () => (this.failures = 0))
        .on('put', (kv) => this.put(kv))
        .on('delete', (kv) => this.deleted(kv))
        // Cancelled by etcd (e.g. its revision compacted while reconnecting): start over.
        .on('error', () => this.later());
    } catch {
      if (generation === this.generation) this.later();
    }
  }

  /** Another sync after a backoff (100 ms doubling to maxReconnectDelay, with jitter). */
  private later(): void {
    if (this.stopped) return;
    this.drop();
    clearTimeout(this.retryTimer);
    const delay = Math.min(this.options.maxReconnectDelay, 100 * 2 ** this.failures++) * (0.5 + Math.random() / 2);
    this.retryTimer = setTimeout(() => void this.sync(), delay);
    this.retryTimer.unref();
  }

  private drop(): void {
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher === undefined) return;
    watcher.removeAllListeners();
    watcher.on('error', () => {}); // late errors of a cancelled watcher are of no interest
    void watcher.cancel().catch(() => {});
  }

  private put(kv: IKeyValue): void {
    const key = kv.key.toString();
    const node = nodeOf(this.options.prefix, this.service, key, kv.value, this.options.maxValueBytes);
    if (node === undefined) {
      // Not a record: ignored, and it replaces what the key held, as a put does.
      if (this.byKey.delete(key)) this.changed();
      return;
    }
    if (!this.byKey.has(key) && this.byKey.size >= this.options.maxInstances) return this.flooded();
    this.byKey.set(key, node);
    this.changed();
  }

  private deleted(kv: IKeyValue): void {
    if (this.byKey.delete(kv.key.toString())) this.changed();
  }

  private flooded(): void {
    if (this.floodReported) return;
    this.floodReported = true;
    this.logger.warn(`etcd registry: service '${this.service}' has more than maxInstances (${this.options.maxInstances}) keys; further ones are ignored (check what writes under ${servicePrefix(this.options.prefix, this.service)}, or raise maxInstances)`);
  }

  /** Tells the listeners once per tick: a watch response of many events is one delivery. */
  private changed(): void {
    if (this.deliverQueued) return;
    this.deliverQueued = true;
    queueMicrotask(() => {
      this.deliverQueued = false;
      if (this.stopped) return;
      const nodes = Object.freeze([...this.byKey.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, n]) => n));
      this.current = nodes;
      for (const listener of [...this.listeners]) listener(nodes);
    });
  }
}
