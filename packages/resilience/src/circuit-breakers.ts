import { roundRobin, RpcError, type AttemptCall, type Call, type Filter, type Selector } from '@svc/core';
import { BoundedMap } from './bounded-map.js';
import { MethodTable, type MethodSettings } from './method-table.js';
import { BucketClock } from './breaker-bucket-clock.js';
import { MethodBreakers, NodeBreaker, type BreakerOwner } from './breaker-node.js';
import { resolveBreakerOptions, resolveCircuitBreakersOptions, type BreakerOptions, type CircuitBreakersOptions, type ResolvedBreakerOptions } from './breaker-options.js';
import { breakerSelector, type BreakerLookup } from './breaker-selector.js';
import { invalidPolicy } from './resilience-errors.js';
import { StateListeners, type BreakerState, type BreakerStateChange, type StateChangeListener } from './breaker-state.js';

/** How many breakers there are and what they hold. */
export interface BreakerStats {
  breakers: number;
  open: number;
  halfOpen: number;
  /** Timers they hold: one interval per bucket length in use (usually one) and a reset timer per open breaker, all unref'd. */
  timers: number;
}

/** Circuit breakers for a client: one per service, method and node, made on first use. */
export interface CircuitBreakers {
  /** The attempt filter (ClientOptions.attemptFilters): refuses attempts to a node whose breaker is open, counts the others' outcomes. */
  readonly filter: Filter<AttemptCall>;
  /** A selector that leaves out nodes with an open breaker (ClientOptions.selector); `inner` defaults to roundRobin(). */
  selector(inner?: Selector): Selector;
  /** The state of a node's breaker for a method; undefined while it has none (never called, or evicted). */
  stateOf(service: string, method: string, address: string): BreakerState | undefined;
  /** Tells `listener` of every state change; returns the function that stops it. */
  on(event: 'stateChange', listener: StateChangeListener): () => void;
  stats(): BreakerStats;
  /** Shuts every breaker down and clears their timers; afterwards the filter and selectors let everything through. */
  close(): void;
}

/** Methods breakers are kept for (as MethodTable's bound); methods past it get none. */
const MAX_METHODS = 10_000;

/**
 * Circuit breakers on opossum, per service, method and node: `settings` are the breaker options
 * of each method (one value for all, or a function of service and method; false: none), checked
 * here, or for a function on the method's first call (bad ones then refuse that method's calls).
 * Use both parts: `filter` as an attempt filter and `selector()` as the client's selector.
 */
export function circuitBreakers(settings: MethodSettings<BreakerOptions | false> = {}, options: CircuitBreakersOptions = {}): CircuitBreakers {
  return new BreakerSet(settings, options);
}

class BreakerSet implements CircuitBreakers, BreakerOwner, BreakerLookup {
  readonly filter: Filter<AttemptCall>;
  refusing = 0;
  private closed = false;
  private readonly table: MethodTable<MethodBreakers>;
  /** Every method's breakers by service, then method: what stateOf reads and the table's resolver reuses. */
  private readonly methods = new Map<string, Map<string, MethodBreakers>>();
  private methodCount = 0;
  /** Every node breaker, least recently used first; the key is the breaker itself. */
  private readonly lru: BoundedMap<NodeBreaker, NodeBreaker>;
  private readonly clock = new BucketClock();
  private readonly listeners = new StateListeners();

  constructor(settings: MethodSettings<BreakerOptions | false>, options: CircuitBreakersOptions) {
    const { maxBreakers, onStateChange } = resolveCircuitBreakersOptions(options, 'circuitBreakers(options)');
    if (onStateChange !== undefined) this.listeners.add(onStateChange);
    this.lru = new BoundedMap<NodeBreaker, NodeBreaker>(maxBreakers, (node) => this.evicted(node));
    const perMethod = typeof settings === 'function';
    // A constant is checked now, once; a function's answers when each method is first called.
    const constant: ResolvedBreakerOptions | undefined = perMethod || settings === false ? undefined : resolveBreakerOptions(settings, 'circuitBreakers');
    this.table = new MethodTable<MethodBreakers>((service, method, methodOptions) => {
      const known = this.methods.get(service)?.get(method);
      if (known !== undefined) return known;
      if (this.methodCount >= MAX_METHODS) return false;
      let resolved: ResolvedBreakerOptions | RpcError;
      if (perMethod) {
        const path = `circuitBreakers(${service}.${method})`;
        try {
          const chosen = settings(service, method, methodOptions);
          if (chosen === false || chosen === undefined) return false;
          resolved = resolveBreakerOptions(chosen, path);
        } catch (error) {
          resolved = error instanceof RpcError ? error : invalidPolicy(path, `the settings function threw: ${error instanceof Error ? error.message : String(error)}`);
        }
      } else if (constant === undefined) return false;
      else resolved = constant;
      return this.remember(new MethodBreakers(service, method, resolved));
    });
    this.filter = (call, next) => {
      if (this.closed || call.kind !== 'call') return next();
      const group = this.table.of(call);
      if (group === undefined) return next();
      if (group.invalid !== undefined) return Promise.reject(group.invalid);
      const address = call.node.address;
      let node = group.nodes.get(address);
      if (node === undefined) node = this.make(group, address);
      else if (node.touched !== this.clock.ticks) {
        // Moved to the end of the LRU at most once per bucket (a second by default): a Map
        // delete and set on every attempt cost about 100 ns when calls go round several nodes.
        node.touched = this.clock.ticks;
        this.lru.get(node);
      }
      return node.run(next);
    };
  }

  selector(inner: Selector = roundRobin()): Selector {
    return breakerSelector(inner, this);
  }

  groupOf(call: Call): MethodBreakers | undefined {
    return this.closed ? undefined : this.table.of(call);
  }

  stateOf(service: string, method: string, address: string): BreakerState | undefined {
    return this.methods.get(service)?.get(method)?.nodes.get(address)?.state;
  }

  on(event: 'stateChange', listener: StateChangeListener): () => void {
    if (event !== 'stateChange') throw new TypeError(`circuit breakers emit 'stateChange' only, not '${String(event)}'`);
    if (typeof listener !== 'function') throw new TypeError('a stateChange listener must be a function');
    return this.listeners.add(listener);
  }

  stats(): BreakerStats {
    let open = 0;
    let halfOpen = 0;
    for (const node of this.lru.values()) {
      if (node.state === 'open') open++;
      else if (node.state === 'halfOpen') halfOpen++;
    }
    // opossum holds a reset timer while a breaker is open (none while half-open or closed).
    return { breakers: this.lru.size, open, halfOpen, timers: this.clock.timers + open };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lru.clear();
    this.clock.close();
    this.listeners.clear();
  }

  changed(node: NodeBreaker, from: BreakerState, to: BreakerState): void {
    const change: BreakerStateChange = { service: node.group.service, method: node.group.method, address: node.address, from, to, at: Date.now() };
    this.listeners.emit(change);
  }

  refusingChanged(delta: 1 | -1): void {
    this.refusing += delta;
  }

  private remember(group: MethodBreakers): MethodBreakers {
    let methods = this.methods.get(group.service);
    if (methods === undefined) this.methods.set(group.service, (methods = new Map()));
    methods.set(group.method, group);
    this.methodCount++;
    return group;
  }

  private make(group: MethodBreakers, address: string): NodeBreaker {
    const node = new NodeBreaker(group, address, this.clock.acquire(group.options!.bucketMs), this);
    group.nodes.set(address, node);
    node.touched = this.clock.ticks;
    this.lru.set(node, node);
    return node;
  }

  /** Least recently used past maxBreakers, or closing: shut down, its timers cleared; a later call makes a new one. */
  private evicted(node: NodeBreaker): void {
    if (node.group.nodes.get(node.address) === node) node.group.nodes.delete(node.address);
    node.shutdown();
    this.clock.release(node.bucketMs);
  }
}
