import { channelClosed, noInstanceKnown } from '../errors/framework-errors.js';
import type { Logger } from '../logger.js';
import type { Registry, ServiceNode } from './registry.js';

export interface RegistryCacheOptions {
  /**
   * Milliseconds between full lookups of each service the client follows (the pull beside the
   * watch's push), so that a missed event heals. Default 30 000; 0: never.
   */
  refreshInterval?: number;
  /** A service not called for about this long has its watch released. Default 300 000 (5 min). */
  idleTimeout?: number;
  /** The most the first lookup of a service (and each refresh) may take, in ms. Default 5 000. */
  lookupTimeout?: number;
  /** Services followed at once; one more releases one not called lately. Default 1 000. */
  maxServices?: number;
}

/** What the cache knows of one service. */
class Entry {
  /** The last list the registry gave (watch or lookup); undefined until one came. */
  nodes: readonly ServiceNode[] | undefined = undefined;
  unwatch: (() => void) | undefined = undefined;
  /** Called since the last idle sweep. */
  used = true;
  /** The first lookup in flight, shared by the calls that wait for it. */
  filling: Promise<readonly ServiceNode[]> | undefined = undefined;
  /** Resolves `filling` when the watch answers first. */
  wake: ((nodes: readonly ServiceNode[]) => void) | undefined = undefined;
  refreshing = false;
  /** Bumped by every watch delivery: a refresh that started before one is older news. */
  deliveries = 0;
  released = false;

  constructor(readonly service: string) {}
}

const NONE: readonly ServiceNode[] = Object.freeze([]);

/**
 * The client's view of a registry that can watch: lookups are answered from memory, kept current
 * by the watch (push) and by a full lookup every refreshInterval (pull). While the registry cannot
 * be reached, the last known nodes keep serving (said once per outage); a service not known yet
 * fails with UNAVAILABLE. Services not called for a while are released.
 */
export class RegistryCache {
  private readonly registry: Registry;
  private readonly logger: Logger;
  private readonly entries = new Map<string, Entry>();
  private readonly lookupTimeout: number;
  private readonly maxServices: number;
  private readonly refreshTimer: NodeJS.Timeout | undefined;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  /** Since when the registry has not answered; 0 while it does. */
  private outageSince = 0;
  private closed = false;

  constructor(registry: Registry, logger: Logger, options: RegistryCacheOptions = {}) {
    this.registry = registry;
    this.logger = logger;
    this.lookupTimeout = positive(options.lookupTimeout, 5_000);
    this.maxServices = Math.max(1, Math.floor(positive(options.maxServices, 1_000)));
    const refresh = options.refreshInterval ?? 30_000;
    if (refresh > 0) {
      this.refreshTimer = setInterval(() => this.refreshAll(), refresh);
      this.refreshTimer.unref();
    }
    // A sweep every half idle time: an entry unused through one whole period is released.
    const idle = positive(options.idleTimeout, 300_000);
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(10, idle / 2));
    this.sweepTimer.unref();
  }

  /** The nodes of a service: at once when known, else once the watch or a lookup answers. */
  lookup(service: string): readonly ServiceNode[] | Promise<readonly ServiceNode[]> {
    const entry = this.entries.get(service);
    if (entry !== undefined && entry.nodes !== undefined) {
      entry.used = true;
      return entry.nodes;
    }
    return this.fill(entry ?? this.follow(service));
  }

  /** How many services are followed now (for tests of the bound). */
  get size(): number {
    return this.entries.size;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.refreshTimer);
    clearInterval(this.sweepTimer);
    for (const entry of this.entries.values()) this.release(entry);
    this.entries.clear();
  }

  /** Starts following a service: its entry, and the registry's watch on it. */
  private follow(service: string): Entry {
    if (this.entries.size >= this.maxServices) this.evictOne();
    const entry = new Entry(service);
    this.entries.set(service, entry);
    try {
      // The watch may deliver at once, inside this call (an in-memory registry).
      entry.unwatch = this.registry.watch!(service, (nodes) => this.delivered(entry, nodes));
    } catch (error) {
      this.logger.warn(`registry: watching '${service}' failed (${describe(error)}); its nodes are refreshed by lookups only`);
    }
    return entry;
  }

  private fill(entry: Entry): readonly ServiceNode[] | Promise<readonly ServiceNode[]> {
    entry.used = true;
    if (entry.nodes !== undefined) return entry.nodes;
    if (this.closed) return Promise.reject(channelClosed(entry.service));
    if (entry.filling !== undefined) return entry.filling;
    const filling = new Promise<readonly ServiceNode[]>((resolve, reject) => {
      entry.wake = resolve;
      this.ask(entry).then(
        (nodes) => {
          if (entry.nodes === undefined) entry.nodes = nodes;
          resolve(entry.nodes);
        },
        (error: unknown) => {
          if (entry.nodes !== undefined) return resolve(entry.nodes); // the watch answered meanwhile
          reject(noInstanceKnown(entry.service, describe(error), error));
        },
      );
    }).finally(() => {
      entry.filling = undefined;
      entry.wake = undefined;
    });
    entry.filling = filling;
    return filling;
  }

  private delivered(entry: Entry, nodes: readonly ServiceNode[]): void {
    if (entry.released) return;
    entry.deliveries++;
    entry.nodes = checked(nodes);
    this.reachable();
    entry.wake?.(entry.nodes);
  }

  /** One lookup of the registry, bounded by lookupTimeout; resolves with the checked list. */
  private ask(entry: Entry): Promise<readonly ServiceNode[]> {
    let answer: readonly ServiceNode[] | Promise<readonly ServiceNode[]>;
    try {
      answer = this.registry.lookup(entry.service);
    } catch (error) {
      this.unreachable(error);
      return Promise.reject(error);
    }
    if (Array.isArray(answer)) {
      this.reachable();
      return Promise.resolve(checked(answer));
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.lookupTimeout} ms`)), this.lookupTimeout);
    });
    return Promise.race([answer as Promise<readonly ServiceNode[]>, timeout]).then(
      (nodes) => {
        clearTimeout(timer);
        this.reachable();
        return checked(nodes);
      },
      (error: unknown) => {
        clearTimeout(timer);
        this.unreachable(error);
        throw error;
      },
    );
  }

  /** The pull: a full lookup of every followed service, one at a time per service. */
  private refreshAll(): void {
    for (const entry of this.entries.values()) {
      if (entry.refreshing || entry.filling !== undefined) continue;
      entry.refreshing = true;
      const before = entry.deliveries;
      this.ask(entry).then(
        (nodes) => {
          entry.refreshing = false;
          // A watch delivery after the lookup started is newer than its answer.
          if (!entry.released && entry.deliveries === before) entry.nodes = nodes;
        },
        () => {
          entry.refreshing = false; // keep the last known nodes; unreachable() said so
        },
      );
    }
  }

  private sweep(): void {
    for (const entry of [...this.entries.values()]) {
      if (entry.used || entry.filling !== undefined) entry.used = false;
      else this.drop(entry);
    }
  }

  /** Over maxServices: release one not called since the last sweep, else the oldest. */
  private evictOne(): void {
    let victim: Entry | undefined;
    for (const entry of this.entries.values()) {
      if (!entry.used && entry.filling === undefined) {
        victim = entry;
        break;
      }
      victim ??= entry;
    }
    if (victim !== undefined) this.drop(victim);
  }

  private drop(entry: Entry): void {
    this.entries.delete(entry.service);
    this.release(entry);
  }

  private release(entry: Entry): void {
    entry.released = true;
    const unwatch = entry.unwatch;
    entry.unwatch = undefined;
    try {
      unwatch?.();
    } catch (error) {
      this.logger.warn(`registry: unwatching '${entry.service}' failed (${describe(error)})`);
    }
  }

  private reachable(): void {
    if (this.outageSince === 0) return;
    const seconds = ((Date.now() - this.outageSince) / 1000).toFixed(1);
    this.outageSince = 0;
    this.logger.info(`registry: answering again after ${seconds} s`);
  }

  private unreachable(error: unknown): void {
    if (this.outageSince !== 0) return;
    this.outageSince = Date.now();
    const known = [...this.entries.values()].filter((e) => e.nodes !== undefined).length;
    this.logger.warn(`registry: not answering (${describe(error)}); calls go on to the last known nodes of ${known} service(s), services not known yet fail with UNAVAILABLE until it answers`);
  }
}

/**
 * The list as the client may use it: frozen, and without nodes that have no address (a registry
 * that lies must not break the call path). The registry's own frozen list is kept when it is clean.
 */
function checked(nodes: readonly ServiceNode[]): readonly ServiceNode[] {
  if (!Array.isArray(nodes)) return NONE;
  let clean = true;
  for (const node of nodes) {
    if (typeof node !== 'object' || node === null || typeof node.address !== 'string' || node.address === '') {
      clean = false;
      break;
    }
  }
  if (clean) return Object.isFrozen(nodes) ? nodes : Object.freeze([...nodes]);
  return Object.freeze(nodes.filter((n) => typeof n === 'object' && n !== null && typeof n.address === 'string' && n.address !== ''));
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

function describe(error: unknown): string {
  return (error as Error)?.message ?? String(error);
}
