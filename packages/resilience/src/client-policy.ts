import type { RpcError } from '@svc/core';
import type { BreakerOptions, CircuitBreakersOptions } from './breaker-options.js';
import type { BulkheadOptions } from './bulkhead-options.js';
import type { ClusterLimitOptions, RateLimitOptions } from './rate-limit-options.js';
import type { TokenSource } from './bearer-token.js';
import type { ThrottleOptions } from './throttle-options.js';

/** What a failed call resolves with instead of its error: a value of the method's result type, or a function of the error giving one. */
export type Fallback<Result> = Result | ((error: RpcError) => Result | Promise<Result>);

/** The parts a client policy sets at every level (defaults, a service, a method); false turns a part off there. */
export interface ClientPartsPolicy {
  /** Circuit breakers per node for these calls (circuitBreakers). */
  breaker?: BreakerOptions | false;
  /** A limit on the calls this client makes (rateLimit). */
  rateLimit?: RateLimitOptions | false;
  /** At most so many of these calls in flight at once (bulkhead). */
  bulkhead?: BulkheadOptions | false;
  /** Hold back a share of attempts to a node that refuses calls as overloaded (adaptiveThrottle); `{}` for the defaults. */
  throttle?: ThrottleOptions | false;
}

/** A method's client policy; `fallback` typed by the method's result when made with servicePolicy(). */
export interface ClientMethodPolicy<Result = unknown> extends ClientPartsPolicy {
  /** What the call resolves with when it fails, after its fail mode's attempts (core's fallback). */
  fallback?: Fallback<Result>;
}

/** A service's client policy, over the defaults, with its methods' over it. */
export interface ClientServicePolicy<Results = Record<string, unknown>> extends ClientPartsPolicy {
  methods?: { readonly [M in keyof Results]?: ClientMethodPolicy<Results[M]> };
}

/** One client's whole policy: defaults for every call, then per service and per method. */
export interface ClientPolicy extends ClientPartsPolicy {
  /** A token sent as `authorization: Bearer <token>` with every call and publish (bearerToken). */
  token?: TokenSource;
  /** An API key sent as `authorization: ApiKey <key>` (apiKey). */
  apiKey?: string;
  /** Shares every rate limit of this policy across the processes using one Redis (rateLimit's `cluster` option). */
  rateLimitCluster?: ClusterLimitOptions;
  /** How many breakers to keep, and who hears their state changes (circuitBreakers' options). */
  breakers?: CircuitBreakersOptions;
  services?: Readonly<Record<string, ClientServicePolicy>>;
}

/** The result type of each method of a generated client (its instance methods returning promises). */
export type MethodResults<Instance> = {
  [M in keyof Instance as Instance[M] extends (...args: never[]) => Promise<unknown> ? M : never]: Instance[M] extends (...args: never[]) => Promise<infer R> ? R : never;
};

/** A class svc-gen generated for a service: its static `service` name and its typed methods. */
export interface GeneratedClient {
  readonly service: string;
  readonly prototype: object;
}

/**
 * A service's policy typed by its generated client, so that a method's fallback must be a value
 * of its result type: `services: { ...servicePolicy(OrdersClient, { methods: { find: { fallback: [] } } }) }`.
 */
export function servicePolicy<C extends GeneratedClient>(client: C, policy: ClientServicePolicy<MethodResults<C['prototype']>>): { [S in C['service']]: ClientServicePolicy } {
  return { [client.service]: policy as ClientServicePolicy } as { [S in C['service']]: ClientServicePolicy };
}
