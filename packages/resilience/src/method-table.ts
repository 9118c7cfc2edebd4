import type { Call, CallContext, MethodOptions } from '@svc/core';

/**
 * Settings of one part (a breaker, a limit, roles) for the calls of each method: one value for
 * every method, or a function of the service, the method and its `@Method` options (on a server;
 * undefined on a client, which has no decorators). `undefined` or `false` from it: the part does
 * nothing for that method.
 */
export type MethodSettings<T> = T | ((service: string, method: string, options: Readonly<MethodOptions> | undefined) => T | false | undefined);

/** Methods a table keeps settings for; past it (a peer inventing method names), settings are worked out per call and not kept. */
const MAX_METHODS = 10_000;

/**
 * The settings of a method, worked out on its first call and then read from two maps (service,
 * then method), so no string is built per call. Bounded: service and method names come from peers.
 */
export class MethodTable<T> {
  private readonly resolve: (service: string, method: string, options: Readonly<MethodOptions> | undefined) => T | false | undefined;
  private readonly services = new Map<string, Map<string, T | null>>();
  private size = 0;

  constructor(settings: MethodSettings<T>) {
    this.resolve = typeof settings === 'function' ? (settings as (s: string, m: string, o: Readonly<MethodOptions> | undefined) => T | false | undefined) : () => settings;
  }

  /** The settings for this call's method, or undefined when the part does nothing for it. */
  of(call: Call): T | undefined {
    let methods = this.services.get(call.service);
    const found = methods?.get(call.method);
    if (found !== undefined) return found ?? undefined;
    const resolved = this.resolve(call.service, call.method, optionsOf(call));
    const value = resolved === false || resolved === undefined ? null : resolved;
    if (this.size < MAX_METHODS) {
      if (methods === undefined) this.services.set(call.service, (methods = new Map()));
      methods.set(call.method, value);
      this.size++;
    }
    return value ?? undefined;
  }
}

/** The `@Method` options of a server call (its CallContext's definition), undefined elsewhere. */
export function optionsOf(call: Call): Readonly<MethodOptions> | undefined {
  return call.side === 'server' && call.kind === 'call' ? (call as CallContext).definition?.options : undefined;
}
