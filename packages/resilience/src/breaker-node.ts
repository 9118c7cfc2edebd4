import CircuitBreaker from 'opossum';
import type { EventEmitter } from 'node:events';
import { RpcError, type Next } from '@svc/core';
import type { ResolvedBreakerOptions } from './breaker-options.js';
import type { BreakerState } from './breaker-state.js';
import { circuitOpen } from './resilience-errors.js';

/** What opossum 9's Status has beyond @types/opossum 8's: the function that slides its window by one bucket. */
interface RotatingStatus {
  rotateBucket?: () => void;
}

/** The rest of the attempt's chain; a chain that throws instead of rejecting still settles the breaker. */
function attempt(next: Next): Promise<unknown> {
  try {
    return next();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** What a node's breaker tells the set it belongs to. */
export interface BreakerOwner {
  /** It moved from one state to another (an event for the listeners). */
  changed(node: NodeBreaker, from: BreakerState, to: BreakerState): void;
  /** Breakers that refuse calls now went up or down by one (the selector's quick check). */
  refusingChanged(delta: 1 | -1): void;
}

/** The breakers of one method, one per node, with the options they share (made on the method's first call). */
export class MethodBreakers {
  readonly service: string;
  readonly method: string;
  /** Undefined when the settings function gave bad options for this method (then `invalid` says why). */
  readonly options: ResolvedBreakerOptions | undefined;
  /** Why every call of this method is refused: its settings are invalid. */
  readonly invalid: RpcError | undefined;
  readonly nodes = new Map<string, NodeBreaker>();
  /** Its breakers that refuse calls now: while 0, the selector leaves no node out. */
  refusing = 0;
  /** opossum's errorFilter (true: not counted), one per method rather than per breaker. */
  readonly errorFilter: (error: unknown) => boolean;

  constructor(service: string, method: string, options: ResolvedBreakerOptions | RpcError) {
    this.service = service;
    this.method = method;
    this.options = options instanceof RpcError ? undefined : options;
    this.invalid = options instanceof RpcError ? options : undefined;
    const isFailure = this.options?.isFailure;
    this.errorFilter = (error) => {
      // What is not an RpcError becomes UNKNOWN at the runner: not the node's fault.
      if (isFailure === undefined || !(error instanceof RpcError)) return true;
      try {
        return !isFailure(error);
      } catch (bug) {
        // Thrown into opossum it would leave the call unsettled; thrown on its own it is seen.
        queueMicrotask(() => {
          throw bug;
        });
        return true;
      }
    };
  }
}

/**
 * The breaker of one node for one method, on an opossum CircuitBreaker (its state, rolling
 * window, reset timer and events). Closed, each attempt's outcome is counted in the window (see
 * `run`) and the breaker opens by its mode's rule. Open, attempts are refused with
 * circuitOpen (UNAVAILABLE, not_sent) before opossum is asked, so the runner tries another node
 * for free. Half-open (after resetTimeout), the first attempt is the probe and the others are
 * refused until it ends: a success or an answer that does not count as a failure closes it (the
 * window starts empty), a counted failure opens it again for resetTimeout, a cancel (the caller
 * gave up, a lost hedge) says nothing and the next attempt probes instead.
 */
export class NodeBreaker {
  readonly group: MethodBreakers;
  readonly address: string;
  readonly breaker: CircuitBreaker<[Next], unknown>;
  readonly bucketMs: number;
  state: BreakerState = 'closed';
  /** Whether it refuses calls now (open, or half-open with its probe out): what the selector leaves out. */
  refusing = false;
  /** The bucket clock's tick when it was last moved to the end of the LRU. */
  touched = -1;
  private probing = false;
  private openedAt = 0;
  private shut = false;
  private readonly options: ResolvedBreakerOptions;
  private readonly owner: BreakerOwner;
  // Bound once: a probe attaches them without a closure of its own.
  private readonly probeSucceeded: () => void;
  private readonly probeFailed: (error: unknown) => void;
  private readonly rotateBucketController: EventEmitter;
  private readonly succeeded: () => void;
  private readonly failed: (error: unknown) => void;
  private readonly dropLatencies: () => void;

  constructor(group: MethodBreakers, address: string, rotateBucketController: EventEmitter, owner: BreakerOwner) {
    const options = group.options!;
    this.group = group;
    this.address = address;
    this.options = options;
    this.owner = owner;
    this.bucketMs = options.bucketMs;
    const breaker = new CircuitBreaker<[Next], unknown>(attempt, {
      // The call's deadline ends an attempt; an opossum timeout would be a timer per call. (As
      // `run` does the closed path itself, these options are also what it assumes of `fire`.)
      timeout: false,
      resetTimeout: options.resetTimeout,
      errorThresholdPercentage: options.errorThresholdPercentage,
      volumeThreshold: options.volumeThreshold,
      rollingCountTimeout: options.rollingCountTimeout,
      rollingCountBuckets: options.rollingCountBuckets,
      rollingPercentilesEnabled: false,
      // Snapshots are an interval per breaker; nothing here listens to them.
      enableSnapshots: false,
      rotateBucketController,
      errorFilter: group.errorFilter,
      name: `${group.service}.${group.method}@${address}`,
    });
    this.breaker = breaker;
    breaker.on('open', () => this.moved('open'));
    breaker.on('halfOpen', () => this.moved('halfOpen'));
    breaker.on('close', () => this.moved('closed'));
    // opossum keeps every call's latency in its window, percentiles off or not (about 11 bytes a
    // call: 3 MiB for a node called 30,000 times a second over 10 s). Nothing here reads them, so
    // each bucket's are dropped once it is done: only the current bucket's are held.
    this.rotateBucketController = rotateBucketController;
    this.dropLatencies = () => {
      const done = breaker.status.window[1];
      if (done !== undefined) done.latencyTimes.length = 0;
    };
    // After opossum's own listener (added as the breaker was made), which has just moved the buckets on.
    rotateBucketController.on('rotate', this.dropLatencies);
    const count = options.mode === 'count';
    this.succeeded = () => {
      // opossum's listener counts it (and closes a half-open breaker, as a late success does there).
      if (!this.shut) breaker.emit('success', undefined, 0);
    };
    this.failed = (error) => {
      // Evicted while the attempt was out: nothing to count.
      if (this.shut) return;
      if (group.errorFilter(error)) {
        breaker.emit('success', undefined, 0);
        return;
      }
      breaker.emit('failure', error, 0);
      // opossum's rule (fail() in lib/circuit.js): a late failure reopens a half-open breaker; a
      // closed one opens once the window holds volumeThreshold calls and more than the threshold
      // failed. The count mode's rule instead: `failures` failures in the window.
      if (breaker.opened) return;
      if (breaker.halfOpen) return breaker.open();
      // Summed here: opossum's `stats` getter costs about 4 µs (every counter of every bucket, and percentiles).
      const window = breaker.status.window;
      let fires = 0;
      let failures = 0;
      for (let i = 0; i < window.length; i++) {
        fires += window[i]!.fires;
        failures += window[i]!.failures;
      }
      if (count ? failures >= options.failures : fires >= options.volumeThreshold && (failures / fires) * 100 > options.errorThresholdPercentage) breaker.open();
    };
    this.probeSucceeded = () => {
      this.endProbe();
      if (this.breaker.halfOpen) this.breaker.close();
    };
    this.probeFailed = (error) => {
      this.endProbe();
      if (!this.breaker.halfOpen) return;
      if (!this.group.errorFilter(error)) this.breaker.open();
      else if (!(error instanceof RpcError && error.code === 'CANCELLED')) this.breaker.close();
    };
  }

  /**
   * Runs the rest of the attempt's chain through the breaker, or refuses it. Closed, it does what
   * opossum's `fire` does with these options (no timeout, cache, coalescing, capacity or
   * fallback): it emits 'fire', then 'success' or 'failure' (after the errorFilter), which
   * opossum's own listeners count in the window, and applies opossum's opening rule. `fire` alone
   * costs about 3 times this whole filter (a promise, two closures, two clock reads and an array
   * per call: measured 400 ns against 150).
   */
  run(next: Next): Promise<unknown> {
    const breaker = this.breaker;
    if (breaker.closed) {
      breaker.emit('fire');
      const outcome = attempt(next);
      // Attached before the caller's handlers, so the outcome is counted before the caller sees it.
      outcome.then(this.succeeded, this.failed);
      return outcome;
    }
    if (!this.probing && breaker.halfOpen) return this.probe(next);
    return Promise.reject(this.refusal());
  }

  /** Clears its reset timer and stops listening to the bucket clock; the owner releases the clock. */
  shutdown(): void {
    if (this.shut) return;
    this.shut = true;
    this.rotateBucketController.off('rotate', this.dropLatencies);
    this.breaker.shutdown();
    this.updateRefusing();
  }

  private probe(next: Next): Promise<unknown> {
    this.probing = true;
    this.updateRefusing();
    const outcome = attempt(next);
    outcome.then(this.probeSucceeded, this.probeFailed);
    return outcome;
  }

  private endProbe(): void {
    this.probing = false;
    this.updateRefusing();
  }

  private refusal(): RpcError {
    const retryInMs = this.state === 'open' ? this.openedAt + this.options.resetTimeout - Date.now() : 0;
    return circuitOpen(this.group.service, this.group.method, this.address, retryInMs);
  }

  private moved(to: BreakerState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    if (to === 'open') this.openedAt = Date.now();
    // Closed again: failures from before it opened no longer count (as Hystrix resets its metrics).
    else if (to === 'closed') this.emptyWindow();
    this.updateRefusing();
    this.owner.changed(this, from, to);
  }

  private emptyWindow(): void {
    const status = this.breaker.status as unknown as RotatingStatus;
    if (typeof status.rotateBucket !== 'function') return;
    for (let i = 0; i < this.options.rollingCountBuckets; i++) status.rotateBucket();
  }

  private updateRefusing(): void {
    const refusing = !this.shut && (this.state === 'open' || (this.state === 'halfOpen' && this.probing));
    if (refusing === this.refusing) return;
    this.refusing = refusing;
    const delta = refusing ? 1 : -1;
    this.group.refusing += delta;
    this.owner.refusingChanged(delta);
  }
}
