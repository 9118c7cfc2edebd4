import type { Call, CallContext, Filter, Next } from '@svc/core';
import { BoundedMap } from './bounded-map.js';
import { MethodTable, type MethodSettings } from './method-table.js';
import { bulkheadFromMethodOptions, bulkheadLimits, type BulkheadLimits, type BulkheadOptions } from './bulkhead-options.js';
import { bulkheadClosed, bulkheadFull, bulkheadWaitedTooLong } from './resilience-errors.js';

/** What a method's bulkhead holds now. */
export interface BulkheadStats {
  /** Calls holding a slot (running their handler, or on a client, in flight). */
  readonly running: number;
  /** Calls waiting for a slot. */
  readonly queued: number;
}

export interface Bulkhead {
  /** A server filter (or a client call filter): put it after auth and before the handler's own filters. */
  readonly filter: Filter;
  /** The method's slots and queue now; undefined when no call of it has come through a bulkhead yet, or it has none. */
  stats(service: string, method: string): BulkheadStats | undefined;
  /** Refuses the calls still waiting (UNAVAILABLE) and stops their timer; running calls finish. Later calls are not queued. */
  close(): void;
}

/** Methods whose compartments stats() can find (the method table keeps at most as many). */
const MAX_COMPARTMENTS = 10_000;

/**
 * At most `concurrency` calls of a method run at once; up to `queue` more wait, first come first
 * served, at most `maxWaitMs`; the rest are refused with RESOURCE_EXHAUSTED (and pushback) before
 * `next()`: on a server the handler never runs (progress `refused`), on a client nothing is sent
 * (`not_sent`). Without `settings`, each method's `@Method({ concurrency, queue })` (server side);
 * methods without `concurrency` are not limited.
 *
 * A slot is a counter, not a library's scheduler: bottleneck's `maxConcurrent` puts a job, its
 * promises and events on every call and starts it on a later timer turn (measured, 100 calls at
 * once: about 270 µs of CPU and 2.4 ms of latency a call; see docs/resilience.md), where a call
 * that finds a free slot costs an increment and a try/finally here (about 0.1 µs).
 */
export function bulkhead(settings?: MethodSettings<BulkheadOptions | false>): Bulkhead {
  const resolve = settings === undefined ? bulkheadFromMethodOptions : settings;
  // A single value is checked now; what a function returns, on each method's first call.
  if (typeof resolve !== 'function' && resolve !== false) bulkheadLimits('bulkhead', resolve);
  const compartments = new BoundedMap<string, Compartment>(MAX_COMPARTMENTS);
  let closed = false;
  const table = new MethodTable<Compartment>((service, method, options) => {
    const wanted = typeof resolve === 'function' ? resolve(service, method, options) : resolve;
    if (wanted === false || wanted === undefined) return undefined;
    const compartment = new Compartment(service, method, bulkheadLimits(`bulkhead(${service}.${method})`, wanted));
    if (closed) compartment.close();
    compartments.set(key(service, method), compartment);
    return compartment;
  });

  // Not async itself: a method without a bulkhead costs no extra promise.
  const filter: Filter = (call: Call, next) => {
    if (call.kind !== 'call') return next();
    // A method the server does not have is refused anyway; made-up names must not fill the table.
    if (call.side === 'server' && (call as CallContext).definition === undefined) return next();
    const compartment = table.of(call);
    return compartment === undefined ? next() : limited(compartment, call, next);
  };

  return {
    filter,
    stats(service, method) {
      const compartment = compartments.peek(key(service, method));
      return compartment === undefined ? undefined : { running: compartment.running, queued: compartment.queued };
    },
    close() {
      closed = true;
      for (const compartment of compartments.values()) compartment.close();
    },
  };
}

async function limited(compartment: Compartment, call: Call, next: Next): Promise<unknown> {
  if (compartment.running < compartment.limits.concurrency) compartment.running++;
  else await compartment.wait(call); // holds a slot once it resolves; throws when refused or abandoned
  try {
    return await next();
  } finally {
    compartment.leave();
  }
}

function key(service: string, method: string): string {
  return `${service}\u0000${method}`;
}

/**
 * One method's slots and its queue. The queue is a linked list, so that a call that gives up
 * (cancelled, out of time) leaves it at once from wherever it is; all of a method's waiters share
 * one maxWaitMs, so the oldest is always first and one timer, armed for it, serves them all.
 */
class Compartment {
  readonly service: string;
  readonly method: string;
  readonly limits: BulkheadLimits;
  running = 0;
  queued = 0;
  private head: Waiter | undefined = undefined;
  private tail: Waiter | undefined = undefined;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private closed = false;

  constructor(service: string, method: string, limits: BulkheadLimits) {
    this.service = service;
    this.method = method;
    this.limits = limits;
  }

  /** Waits for a slot: resolves holding it, or rejects (queue full, the call's signal, maxWaitMs, close). */
  wait(call: Call): Promise<void> {
    const { limits } = this;
    if (this.closed || this.queued >= limits.queue) {
      return Promise.reject(bulkheadFull(this.service, this.method, limits.concurrency, this.queued, call.side, limits.pushbackMs));
    }
    const signal = call.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    const waiter = new Waiter(this, call.side, signal);
    const promise = new Promise<void>((resolve, reject) => {
      waiter.resolve = resolve;
      waiter.reject = reject;
    });
    if (this.tail === undefined) this.head = waiter;
    else {
      this.tail.next = waiter;
      waiter.prev = this.tail;
    }
    this.tail = waiter;
    this.queued++;
    signal.addEventListener('abort', waiter, { once: true });
    if (limits.maxWaitMs > 0 && this.timer === undefined) this.arm(limits.maxWaitMs);
    return promise;
  }

  /** A call that held a slot ended: the slot goes straight to the first waiter, or is freed. */
  leave(): void {
    const first = this.head;
    if (first === undefined) {
      this.running--;
      return;
    }
    this.remove(first);
    first.resolve();
  }

  /** A waiter's call was cancelled or ran out of time: it leaves the queue and fails with the signal's reason. */
  abandon(waiter: Waiter): void {
    if (!waiter.queued) return;
    this.remove(waiter);
    waiter.reject(waiter.signal.reason);
  }

  close(): void {
    this.closed = true;
    this.disarm();
    for (let waiter = this.head; waiter !== undefined; waiter = this.head) {
      this.remove(waiter);
      waiter.reject(bulkheadClosed(this.service, this.method, waiter.side));
    }
  }

  private remove(waiter: Waiter): void {
    waiter.queued = false;
    waiter.signal.removeEventListener('abort', waiter);
    if (waiter.prev === undefined) this.head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) this.tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.queued--;
    if (this.queued === 0) this.disarm();
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.expire(), Math.max(1, ms));
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Refuses the waiters that waited maxWaitMs (the oldest first), and re-arms for the next one. */
  private expire(): void {
    this.timer = undefined;
    const { maxWaitMs, pushbackMs } = this.limits;
    const now = performance.now();
    for (let waiter = this.head; waiter !== undefined; waiter = this.head) {
      const waited = now - waiter.since;
      // Timers fire on whole milliseconds: within half of one counts as due.
      if (waited < maxWaitMs - 0.5) return this.arm(maxWaitMs - waited);
      this.remove(waiter);
      waiter.reject(bulkheadWaitedTooLong(this.service, this.method, waited, waiter.side, pushbackMs));
    }
  }
}

/** A call waiting in a compartment's queue; it is its own abort listener (no closure per call). */
class Waiter {
  readonly compartment: Compartment;
  readonly side: 'client' | 'server';
  readonly signal: AbortSignal;
  readonly since = performance.now();
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  queued = true;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor(compartment: Compartment, side: 'client' | 'server', signal: AbortSignal) {
    this.compartment = compartment;
    this.side = side;
    this.signal = signal;
  }

  handleEvent(): void {
    this.compartment.abandon(this);
  }
}
