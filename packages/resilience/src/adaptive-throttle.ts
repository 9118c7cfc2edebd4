import { RpcError, type AttemptCall, type Filter } from '@svc/core';
import { BoundedMap } from './bounded-map.js';
import { MethodTable, type MethodSettings } from './method-table.js';
import { resolveThrottleOptions, type ResolvedThrottleOptions, type ThrottleOptions } from './throttle-options.js';
import { invalidPolicy, throttledLocally } from './resilience-errors.js';

/** What the client counts of one node now. */
export interface ThrottleState {
  /** Attempts sent in the window (those held back are not counted). */
  readonly requests: number;
  /** Attempts the node accepted (answered, with anything but an overload refusal). */
  readonly accepts: number;
  /** The share of new attempts held back now (0 while the node keeps up). */
  readonly share: number;
}

export interface AdaptiveThrottle {
  /** An attempt filter (ClientOptions.attemptFilters): put it before the circuit breakers. */
  readonly filter: Filter<AttemptCall>;
  /** The counts for a service's node; undefined before its first attempt through the throttle. */
  state(service: string, address: string): ThrottleState | undefined;
}

/** Nodes counted at once; past it the least recently used are forgotten (they start again at 0). */
const MAX_NODES = 10_000;
const BUCKETS = 10;

/**
 * Client-side adaptive throttling (after Google SRE, "Handling Overload"): when a node refuses
 * calls as overloaded (RESOURCE_EXHAUSTED with progress `refused`: a load shedder, a server rate
 * limit or bulkhead), the client holds back a share of new attempts to it, max(0, (requests − K ×
 * accepts) / (requests + 1)) over the window, and fails them at once with RESOURCE_EXHAUSTED
 * `not_sent` (throttledLocally): with other nodes the call moves on to one of them for free (core's
 * free retry of not_sent), with none it fails in microseconds instead of waiting in the
 * overloaded server's queue only to be refused there. `requests` counts the attempts sent, not
 * those held back (the book counts both): counting both, a node that refused everything for a
 * moment was starved for many seconds after it recovered (measured: a quarter of its capacity
 * for 5 s, as its accepts could only double about once per window); counting what was sent, the
 * share is 0 again once the node has accepted 1/K of the attempts it refused in the window. Under
 * a standing overload the node then gets about √(K × accepted × offered) instead of K × accepted.
 *
 * Per (service, node), whatever the method; settings per method as every part (the nearest
 * policy level). A node that keeps up costs a bucket check and two increments per attempt.
 */
export function adaptiveThrottle(settings: MethodSettings<ThrottleOptions | false> = {}): AdaptiveThrottle {
  const perMethod = typeof settings === 'function';
  const constant = perMethod || settings === false ? undefined : resolveThrottleOptions(settings, 'adaptiveThrottle');
  const table = new MethodTable<ResolvedThrottleOptions | RpcError>((service, method, methodOptions) => {
    if (!perMethod) return constant ?? false;
    const path = `adaptiveThrottle(${service}.${method})`;
    try {
      const chosen = settings(service, method, methodOptions);
      if (chosen === false || chosen === undefined) return false;
      return resolveThrottleOptions(chosen, path);
    } catch (error) {
      return error instanceof RpcError ? error : invalidPolicy(path, `the settings function threw: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  const services = new Map<string, Map<string, NodeCounts>>();
  // Bounds how many nodes are counted; one evicted is dropped from its service's map too.
  const nodes = new BoundedMap<NodeCounts, NodeCounts>(MAX_NODES, (counts) => void services.get(counts.service)?.delete(counts.address));
  const countsOf = (service: string, address: string, options: ResolvedThrottleOptions): NodeCounts => {
    let byAddress = services.get(service);
    const known = byAddress?.get(address);
    if (known !== undefined) return known;
    const counts = new NodeCounts(service, address, options);
    if (byAddress === undefined) services.set(service, (byAddress = new Map()));
    byAddress.set(address, counts);
    nodes.set(counts, counts);
    return counts;
  };

  const filter: Filter<AttemptCall> = (attempt, next) => {
    if (attempt.kind !== 'call') return next();
    const options = table.of(attempt);
    if (options === undefined) return next();
    if (options instanceof RpcError) return Promise.reject(options);
    const counts = countsOf(attempt.service, attempt.node.address, options);
    const share = counts.shareNow(Date.now());
    if (counts.rolled) {
      // Kept recent in the LRU once per bucket, not per attempt (a Map delete and set each time).
      counts.rolled = false;
      nodes.get(counts);
    }
    if (share > 0 && Math.random() < share) return Promise.reject(throttledLocally(attempt.service, attempt.node.address, share, options.windowMs));
    counts.requested();
    return next().then(
      (value) => {
        counts.accepted();
        return value;
      },
      (error: unknown) => {
        counts.failed(error);
        throw error;
      },
    );
  };

  return {
    filter,
    state(service, address) {
      const counts = services.get(service)?.get(address);
      if (counts === undefined) return undefined;
      const share = counts.shareNow(Date.now());
      return { requests: counts.requests, accepts: counts.accepts, share };
    },
  };
}

/** Requests and accepts of one node over a sliding window of ten buckets. */
class NodeCounts {
  readonly service: string;
  readonly address: string;
  requests = 0;
  accepts = 0;
  /** Set when the window moved: the filter then marks it recently used. */
  rolled = false;
  private readonly multiplier: number;
  private readonly bucketMs: number;
  private readonly requestBuckets = new Float64Array(BUCKETS);
  private readonly acceptBuckets = new Float64Array(BUCKETS);
  /** The bucket now being filled, as a count of bucketMs since the epoch. */
  private bucket = 0;

  constructor(service: string, address: string, options: ResolvedThrottleOptions) {
    this.service = service;
    this.address = address;
    this.multiplier = options.multiplier;
    this.bucketMs = options.windowMs / BUCKETS;
  }

  /** Moves the window to `now` and returns the share of attempts to hold back. */
  shareNow(now: number): number {
    const bucket = Math.floor(now / this.bucketMs);
    if (bucket !== this.bucket) this.roll(bucket);
    const excess = this.requests - this.multiplier * this.accepts;
    return excess <= 0 ? 0 : excess / (this.requests + 1);
  }

  requested(): void {
    this.requests++;
    this.requestBuckets[this.bucket % BUCKETS]!++;
  }

  accepted(): void {
    this.accepts++;
    this.acceptBuckets[this.bucket % BUCKETS]!++;
  }

  /**
   * What a failure says. An overload refusal, or no answer at all (a lost connection, the
   * deadline), is no accept. What never reached the node (a breaker's refusal, a connection not
   * made) was no request either; an error a handler answered with was accepted.
   */
  failed(error: unknown): void {
    if (!RpcError.is(error)) return this.accepted();
    if (error.progress === 'not_sent') {
      if (this.requestBuckets[this.bucket % BUCKETS]! > 0) {
        this.requests--;
        this.requestBuckets[this.bucket % BUCKETS]!--;
      }
      return;
    }
    if (error.progress === 'refused') return;
    if (error.code === 'UNAVAILABLE' || error.code === 'DEADLINE_EXCEEDED' || error.code === 'CANCELLED' || error.code === 'RESOURCE_EXHAUSTED') return;
    this.accepted();
  }

  private roll(bucket: number): void {
    const steps = Math.min(BUCKETS, Math.max(0, bucket - this.bucket));
    for (let i = 1; i <= steps; i++) {
      const slot = (this.bucket + i) % BUCKETS;
      this.requests -= this.requestBuckets[slot]!;
      this.accepts -= this.acceptBuckets[slot]!;
      this.requestBuckets[slot] = 0;
      this.acceptBuckets[slot] = 0;
    }
    this.bucket = bucket;
    this.rolled = true;
  }
}
