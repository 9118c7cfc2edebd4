import type { Metadata } from '../metadata.js';
import { nextCalledTwice } from '../errors/framework-errors.js';

/** What a filter sees of one call, on the client or on the server side. */
export interface Call {
  readonly side: 'client' | 'server';
  /**
   * 'call' for a request that is answered (a client call or attempt, a server's handled call);
   * 'event' for an event: published by a client (service and method are then ''), or delivered
   * to a server's @Subscribe handler (an EventContext).
   */
  readonly kind: 'call' | 'event';
  readonly service: string;
  readonly method: string;
  /** The decoded request value; a filter may replace it before calling next. */
  request: unknown;
  /** Request metadata: outgoing on the client (filters may add to it), incoming on the server. */
  readonly metadata: Metadata;
  /** Absolute deadline (Date.now() scale), 0 for none. */
  readonly deadline: number;
  /** Fires when the call is cancelled or its deadline passes. */
  readonly signal: AbortSignal;
}

/**
 * Runs the rest of the chain (and finally the handler or the transport) for the same call; call
 * it at most once. To change the request, assign `call.request` before calling it.
 */
export type Next = () => Promise<unknown>;

/**
 * The one filter shape, for clients and servers alike: do something around `next()`, or throw an
 * RpcError instead of calling it. Filters are composed once when the client or server starts.
 */
export type Filter<C extends Call = Call> = (call: C, next: Next) => Promise<unknown>;

export type Terminal<C extends Call = Call> = (call: C) => Promise<unknown>;

/** Builds the chain once; per call it costs one closure per filter and nothing with no filters. */
export function composeFilters<C extends Call = Call>(filters: readonly Filter<C>[], terminal: Terminal<C>): Terminal<C> {
  let chain: Terminal<C> = terminal;
  for (let i = filters.length - 1; i >= 0; i--) {
    const filter = filters[i]!;
    const rest = chain;
    chain = (call: C) => {
      let called = false;
      return filter(call, () => {
        if (called) return Promise.reject(nextCalledTwice());
        called = true;
        return rest(call);
      });
    };
  }
  return chain;
}
