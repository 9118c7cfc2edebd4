import type { Call, CallContext, Filter, Next } from '@svc/core';
import { BoundedMap } from './bounded-map.js';
import { ClusterStore, ClusterStoreDown, type ClusterTake } from './cluster-limit.js';
import { MethodTable, type MethodSettings } from './method-table.js';
import { RateBudget, SLACK_MS, monotonicNow } from './rate-limit-budget.js';
import { budgetKeyOf, callerOf, redisKeyOf, scopeName } from './rate-limit-key.js';
import { checkClusterOptions, limitSpec, type LimitSpec, type RateLimiterOptions, type RateLimitOptions } from './rate-limit-options.js';
import { invalidPolicy, rateLimited, rateLimiterClosed, rateLimitStoreDown, type RateLimitRefusal } from './resilience-errors.js';

/** A rate limit as a filter, and the way to stop it (no timers or connections left after close). */
export interface RateLimiter {
  /** A client call filter (side 'client': refusals are `not_sent`) or a server filter (refusals are `refused`, no handler runs). */
  readonly filter: Filter;
  /** Fails the calls still queued, closes the Redis client it made; later calls are refused. */
  close(): Promise<void>;
}

const NO_SLOT: RateLimitRefusal = { why: 'no_slot' };
const OPTION_KEYS = new Set(['cluster']);

/**
 * Limits the rate of calls, per method (default), per service, or per caller (a request
 * metadata key), in this process or across all processes sharing a Redis (`options.cluster`).
 * A refused call fails with RESOURCE_EXHAUSTED and a pushback of the ms until a slot frees,
 * before anything is sent (client) or any handler runs (server). Events pass through.
 *
 * `settings` is one limit for every method, or a function of service, method and @Method options
 * (`false` for methods without a limit). A fixed limit is checked here; a function's answers when
 * each method is first called (a bad one fails that call with INVALID_ARGUMENT naming the key).
 * Methods whose limits are equal (same figures and key) share the budget of a service or caller.
 */
export function rateLimit(settings: MethodSettings<RateLimitOptions | false>, options: RateLimiterOptions = {}): RateLimiter {
  if (typeof options !== 'object' || options === null) throw invalidPolicy('rateLimit options', 'an object such as { cluster: { redis: { host, port } } }');
  for (const name of Object.keys(options)) {
    if (!OPTION_KEYS.has(name)) throw invalidPolicy(`rateLimit options.${name}`, 'unknown option; the options take cluster');
  }
  if (options.cluster !== undefined) checkClusterOptions(options.cluster, 'rateLimit options.cluster');
  const fixed = typeof settings === 'function' || settings === false || settings === undefined ? undefined : limitSpec(settings, 'rateLimit');
  const limiter = new Limiter(settings, fixed, options.cluster === undefined ? undefined : new ClusterStore(options.cluster));
  return { filter: limiter.filter, close: () => limiter.close() };
}

class Limiter {
  private readonly table: MethodTable<ScopeLimit>;
  /** Limits by budget key: methods with equal limits on one service (or caller) share it. */
  private readonly scopes = new Map<string, ScopeLimit>();
  /** Evicted per-caller budgets that still had calls waiting: close() must still reach them. */
  readonly orphans = new Set<RateBudget>();
  readonly store: ClusterStore | undefined;
  closed = false;

  constructor(settings: MethodSettings<RateLimitOptions | false>, fixed: LimitSpec | undefined, store: ClusterStore | undefined) {
    this.store = store;
    this.table = new MethodTable<ScopeLimit>((service, method, methodOptions) => {
      const value = typeof settings === 'function' ? (settings as (s: string, m: string, o: typeof methodOptions) => RateLimitOptions | false | undefined)(service, method, methodOptions) : settings;
      if (value === false || value === undefined) return false;
      return this.scopeFor(fixed ?? limitSpec(value, `rateLimit(${service}.${method})`), service, method);
    });
  }

  readonly filter: Filter = (call: Call, next: Next): Promise<unknown> => {
    if (call.kind !== 'call') return next();
    // An unknown method on a server is refused UNIMPLEMENTED anyway; no budget is made for names a peer invents.
    if (call.side === 'server' && (call as CallContext).definition === undefined) return next();
    let limit: ScopeLimit | undefined;
    try {
      limit = this.table.of(call);
    } catch (error) {
      return Promise.reject(error);
    }
    if (limit === undefined) return next();
    if (this.closed) return Promise.reject(rateLimiterClosed(limit.name, call.side));
    return this.store === undefined ? limit.runLocal(call, next) : limit.runCluster(this.store, call, next);
  };

  async close(): Promise<void> {
    this.closed = true;
    for (const scope of this.scopes.values()) scope.closeQueues();
    for (const budget of this.orphans) budget.closeQueue((queued) => rateLimiterClosed('a caller', queued.side));
    this.orphans.clear();
    await this.store?.close();
  }

  private scopeFor(spec: LimitSpec, service: string, method: string): ScopeLimit {
    const key = budgetKeyOf(spec, service, method);
    let scope = this.scopes.get(key);
    if (scope === undefined) this.scopes.set(key, (scope = new ScopeLimit(spec, service, spec.key === 'method' ? method : '', this)));
    return scope;
  }
}

/** The budget (or, per caller, budgets) of one scope, and what a call does with it. */
class ScopeLimit {
  /** Whose budget it is, for messages ("Shop.order"). */
  readonly name: string;
  private readonly budget: RateBudget | undefined;
  private readonly callers: BoundedMap<string, RateBudget> | undefined;
  /** The Redis key of a service or method scope (per-caller keys are built per call). */
  private readonly redisKey: string;

  constructor(
    readonly spec: LimitSpec,
    private readonly service: string,
    private readonly method: string,
    private readonly limiter: Limiter,
  ) {
    this.name = scopeName(spec, service, method);
    if (spec.key === 'caller') {
      this.callers = new BoundedMap<string, RateBudget>(spec.maxKeys, (evicted) => {
        if (evicted.waiting > 0) limiter.orphans.add(evicted);
      });
    } else this.budget = new RateBudget(spec);
    this.redisKey = limiter.store === undefined ? '' : redisKeyOf(limiter.store.prefix, spec, service, method, '');
  }

  /** This process's budget for the call (for a cluster-wide limit: its copy while Redis is down, and its queue). */
  budgetOf(call: Call): RateBudget {
    if (this.budget !== undefined) return this.budget;
    const caller = callerOf(call, this.spec.callerKey);
    let budget = this.callers!.get(caller);
    if (budget === undefined) this.callers!.set(caller, (budget = new RateBudget(this.spec)));
    return budget;
  }

  /** The common case is synchronous: a free slot, then straight on to next(). */
  runLocal(call: Call, next: Next): Promise<unknown> {
    const budget = this.budgetOf(call);
    const now = monotonicNow();
    if (budget.tryTake(now)) return next();
    return this.queueLocal(budget, now, call, next);
  }

  async runCluster(store: ClusterStore, call: Call, next: Next): Promise<unknown> {
    const spec = this.spec;
    const budget = this.budgetOf(call);
    const key = spec.key === 'caller' ? redisKeyOf(store.prefix, spec, this.service, '', callerOf(call, spec.callerKey)) : this.redisKey;
    const queueRoom = spec.queue > 0 && budget.waiting < spec.queue;
    const untilDeadline = call.deadline === 0 ? Number.POSITIVE_INFINITY : call.deadline - Date.now();
    const maxWaitMs = queueRoom ? Math.max(0, Math.min(spec.maxWaitMs, untilDeadline)) : 0;
    let taken: ClusterTake | undefined;
    let down: ClusterStoreDown | undefined;
    if (queueRoom) budget.asking++;
    try {
      taken = await store.take(key, spec.intervalMs, spec.toleranceMs, maxWaitMs, call.signal);
    } catch (error) {
      if (!(error instanceof ClusterStoreDown)) throw error; // the call's own end (deadline, cancel)
      down = error;
    } finally {
      if (queueRoom) budget.asking--;
    }
    if (taken === undefined) {
      if (store.failOpen) return this.runLocal(call, next);
      throw rateLimitStoreDown(this.name, spec.describe, store.address, down!.message, Math.max(spec.intervalMs, 100), call.side);
    }
    if (!taken.taken) {
      const refusal: RateLimitRefusal =
        spec.queue === 0 ? NO_SLOT : !queueRoom ? { why: 'queue_full', queue: spec.queue } : taken.waitMs > spec.maxWaitMs ? { why: 'wait_too_long', waitMs: taken.waitMs, maxWaitMs: spec.maxWaitMs } : { why: 'past_deadline', waitMs: taken.waitMs };
      throw rateLimited(this.name, spec.describe, taken.waitMs, refusal, call.side);
    }
    if (taken.waitMs <= SLACK_MS) return next();
    // The slot is booked in Redis; a call cancelled while it waits leaves it spent (under-use, never over).
    return budget.hold(taken.waitMs, call, next, undefined);
  }

  closeQueues(): void {
    const fail = (queued: { side: 'client' | 'server' }) => rateLimiterClosed(this.name, queued.side);
    this.budget?.closeQueue(fail);
    if (this.callers !== undefined) for (const budget of this.callers.values()) budget.closeQueue(fail);
  }

  /** No slot now: wait for one if the queue, maxWaitMs and the deadline allow, else refuse. */
  private queueLocal(budget: RateBudget, now: number, call: Call, next: Next): Promise<unknown> {
    const spec = this.spec;
    const waitMs = budget.waitMs(now);
    let refusal: RateLimitRefusal | undefined;
    if (spec.queue === 0) refusal = NO_SLOT;
    else if (budget.waiting >= spec.queue) refusal = { why: 'queue_full', queue: spec.queue };
    else if (waitMs > spec.maxWaitMs) refusal = { why: 'wait_too_long', waitMs, maxWaitMs: spec.maxWaitMs };
    else if (call.deadline !== 0 && Date.now() + waitMs > call.deadline) refusal = { why: 'past_deadline', waitMs };
    if (refusal !== undefined) return Promise.reject(rateLimited(this.name, spec.describe, waitMs, refusal, call.side));
    const bookedAt = budget.book(now);
    return budget.hold(waitMs, call, next, () => budget.giveBack(bookedAt));
  }
}
