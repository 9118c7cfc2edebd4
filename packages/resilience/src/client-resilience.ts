import type { AttemptCall, ClientOptions, ClientServiceOptions, Filter, Selector } from '@svc/core';
import { roundRobin } from '@svc/core';
import { circuitBreakers, type CircuitBreakers } from './circuit-breakers.js';
import { resolveBreakerOptions, resolveCircuitBreakersOptions, type BreakerOptions } from './breaker-options.js';
import { bulkhead, type Bulkhead } from './bulkhead.js';
import { adaptiveThrottle, type AdaptiveThrottle } from './adaptive-throttle.js';
import { resolveThrottleOptions, type ThrottleOptions } from './throttle-options.js';
import { bulkheadLimits, type BulkheadOptions } from './bulkhead-options.js';
import { rateLimit, type RateLimiter } from './rate-limit.js';
import { checkClusterOptions, checkRateLimitOptions, type RateLimitOptions } from './rate-limit-options.js';
import { bearerToken } from './bearer-token.js';
import { apiKey } from './api-key-header.js';
import { anyLevelSets, checkPolicyTree, nearestSetting, type KeyCheck, type PolicyTree } from './policy-levels.js';
import { invalidPolicy } from './resilience-errors.js';
import type { ClientPolicy } from './client-policy.js';

/** A client's resilience, made from its policy: spread it into ClientOptions with apply(). */
export interface ClientResilience {
  /** Call filters: the token, then the rate limit, then the bulkhead. */
  readonly filters: readonly Filter[];
  /** Attempt filters: the adaptive throttle, then the circuit breakers, when the policy has them. */
  readonly attemptFilters: readonly Filter<AttemptCall>[];
  /** The fallbacks, as ClientOptions.services (per service, per method). */
  readonly services: Readonly<Record<string, ClientServiceOptions>>;
  /** The breakers (their states, their events), when the policy has any. */
  readonly breakers: CircuitBreakers | undefined;
  /** The adaptive throttle (its counts per node), when the policy has one. */
  readonly throttle: AdaptiveThrottle | undefined;
  /** A selector that leaves out nodes whose breaker is open (the inner one itself when there are no breakers). */
  selector(inner?: Selector): Selector;
  /**
   * The options with all of it added: its filters inside yours (a span of yours sees a call the
   * limiter refused), its breaker filter inside your attempt filters, your selector wrapped, and
   * the fallbacks merged into your `services` (yours win where both set one).
   */
  apply(options: ClientOptions): ClientOptions;
  /** Stops the breakers' and limiters' timers and connections. */
  close(): Promise<void>;
}

const PART_CHECKS: Readonly<Record<string, KeyCheck>> = {
  breaker: (value, path) => void (value === false || resolveBreakerOptions(value, path)),
  rateLimit: (value, path) => void (value === false || checkRateLimitOptions(value, path)),
  bulkhead: (value, path) => void (value === false || bulkheadLimits(path, value)),
  throttle: (value, path) => void (value === false || resolveThrottleOptions(value as ThrottleOptions, path)),
};
const TOP_CHECKS: Readonly<Record<string, KeyCheck>> = {
  rateLimitCluster: (value, path) => checkClusterOptions(value, path),
  token: (value, path) => {
    if (!(typeof value === 'function' || (typeof value === 'string' && value !== ''))) throw invalidPolicy(path, 'expected a token string or a function returning one');
  },
  apiKey: (value, path) => {
    if (!(typeof value === 'string' && value !== '')) throw invalidPolicy(path, 'expected the API key as a non-empty string');
  },
  breakers: (value, path) => void resolveCircuitBreakersOptions(value, path),
};
const METHOD_CHECKS: Readonly<Record<string, KeyCheck>> = { fallback: () => {} };

/**
 * A client's resilience from one policy: defaults for every call, then per service, then per
 * method (the nearest level wins, part by part; false turns a part off). Checked whole now:
 * an unknown key or a bad value throws INVALID_ARGUMENT naming its path.
 *
 *     const resilience = clientResilience({
 *       breaker: { errorThresholdPercentage: 50, resetTimeout: 5_000 },
 *       token: () => auth.accessToken(),
 *       services: { ...servicePolicy(OrdersClient, { rateLimit: { reservoir: 100, refreshIntervalMs: 1_000 }, methods: { find: { fallback: [] } } }) },
 *     });
 *     const client = new Client(resilience.apply({ transport: tcp(), registry, failMode: 'failover' }));
 */
export function clientResilience(policy: ClientPolicy): ClientResilience {
  checkPolicyTree(policy, 'clientResilience', TOP_CHECKS, PART_CHECKS, METHOD_CHECKS);
  if (policy.token !== undefined && policy.apiKey !== undefined) throw invalidPolicy('clientResilience', 'give either token or apiKey, not both: both go in the authorization metadata');
  const tree = policy as PolicyTree;
  const filters: Filter[] = [];
  if (policy.token !== undefined) filters.push(bearerToken(policy.token));
  if (policy.apiKey !== undefined) filters.push(apiKey(policy.apiKey));
  let limiter: RateLimiter | undefined;
  if (anyLevelSets(tree, 'rateLimit')) {
    limiter = rateLimit((service, method) => nearestSetting<RateLimitOptions>(tree, 'rateLimit', service, method, undefined), policy.rateLimitCluster === undefined ? {} : { cluster: policy.rateLimitCluster });
    filters.push(limiter.filter);
  }
  let compartments: Bulkhead | undefined;
  if (anyLevelSets(tree, 'bulkhead')) {
    compartments = bulkhead((service, method) => nearestSetting<BulkheadOptions>(tree, 'bulkhead', service, method, undefined));
    filters.push(compartments.filter);
  }
  const breakers = anyLevelSets(tree, 'breaker') ? circuitBreakers((service, method) => nearestSetting<BreakerOptions>(tree, 'breaker', service, method, undefined), policy.breakers) : undefined;
  const throttle = anyLevelSets(tree, 'throttle') ? adaptiveThrottle((service, method) => nearestSetting<ThrottleOptions>(tree, 'throttle', service, method, undefined)) : undefined;
  // The throttle outside the breakers: a breaker's own refusal (not_sent) is no request to count,
  // and an attempt held back by the throttle is no failure of the node for a breaker to count.
  const attemptFilters: Filter<AttemptCall>[] = [];
  if (throttle !== undefined) attemptFilters.push(throttle.filter);
  if (breakers !== undefined) attemptFilters.push(breakers.filter);
  const services = fallbacksOf(policy);
  const selector = (inner: Selector = roundRobin()): Selector => (breakers === undefined ? inner : breakers.selector(inner));
  return {
    filters,
    attemptFilters,
    services,
    breakers,
    throttle,
    selector,
    apply: (options) => ({
      ...options,
      filters: [...(options.filters ?? []), ...filters],
      attemptFilters: [...(options.attemptFilters ?? []), ...attemptFilters],
      selector: breakers === undefined ? options.selector : selector(options.selector),
      services: mergeServices(services, options.services),
    }),
    close: async () => {
      breakers?.close();
      compartments?.close();
      await limiter?.close();
    },
  };
}

/** The methods' fallbacks, as core's ClientOptions.services holds them. */
function fallbacksOf(policy: ClientPolicy): Record<string, ClientServiceOptions> {
  const services: Record<string, ClientServiceOptions> = {};
  for (const [service, level] of Object.entries(policy.services ?? {})) {
    const methods: Record<string, { fallback: unknown }> = {};
    for (const [method, methodLevel] of Object.entries(level.methods ?? {})) {
      if (methodLevel?.fallback !== undefined) methods[method] = { fallback: methodLevel.fallback };
    }
    if (Object.keys(methods).length > 0) services[service] = { methods };
  }
  return services;
}

/** The user's services over the fallbacks: a method's own settings win, field by field. */
function mergeServices(fallbacks: Readonly<Record<string, ClientServiceOptions>>, own: Readonly<Record<string, ClientServiceOptions>> | undefined): Record<string, ClientServiceOptions> {
  const merged: Record<string, ClientServiceOptions> = { ...fallbacks };
  for (const [service, options] of Object.entries(own ?? {})) {
    const base = merged[service];
    if (base === undefined) {
      merged[service] = options;
      continue;
    }
    const methods: Record<string, object> = { ...base.methods };
    for (const [method, methodOptions] of Object.entries(options.methods ?? {})) methods[method] = { ...methods[method], ...methodOptions };
    merged[service] = { ...base, ...options, methods };
  }
  return merged;
}
