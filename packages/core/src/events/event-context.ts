import type { Metadata } from '../metadata.js';
import type { Call } from '../filter/filter.js';

const NO_METADATA: Metadata = Object.freeze({}) as Metadata;

/** How the server runs an event's handler (kept from filters and handlers). */
export type EventInvoke = (payload: unknown, ctx: EventContext) => unknown;

let make!: (topic: string, metadata: Metadata | undefined, service: string, method: string, payload: unknown, invoke: EventInvoke) => EventContext;
let invokeOf!: (ctx: EventContext) => EventInvoke | undefined;

/**
 * What an event handler gets besides the payload, and what server filters see of an event
 * delivery: a `Call` with `side` 'server', `service` the subscribing service, `method` the
 * handler's property, `request` the payload, and `topic`. A filter tells an event from a call
 * by `call.kind === 'event'`.
 */
export class EventContext implements Call {
  readonly side = 'server' as const;
  /** The topic the event was published on (not the pattern subscribed). */
  readonly topic: string;
  /** Metadata the publisher sent. */
  readonly metadata: Metadata;
  /** The service whose handler runs. */
  readonly service: string;
  /** The handler's property on the service (e.g. 'reserve'); '' when made by hand without one. */
  readonly method: string;
  /** The decoded payload; a filter may replace it before calling next(). */
  request: unknown;
  /** Events have no deadline: always 0. */
  readonly deadline = 0;
  private controller: AbortController | undefined = undefined;
  #invoke: EventInvoke | undefined = undefined;

  static {
    make = (topic, metadata, service, method, payload, invoke) => {
      const ctx = new EventContext(topic, metadata, service, method, payload);
      ctx.#invoke = invoke;
      return ctx;
    };
    invokeOf = (ctx) => ctx.#invoke;
  }

  constructor(topic: string, metadata: Metadata | undefined, service: string, method = '', request: unknown = undefined) {
    this.topic = topic;
    this.metadata = metadata ?? NO_METADATA;
    this.service = service;
    this.method = method;
    this.request = request;
  }

  get kind(): 'event' {
    return 'event';
  }

  /** For filters written for calls: an event has no caller to cancel it, so it never fires. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }
}

/** @internal The server's side: a context bound to its handler, and the handler of a context. */
export const eventContextInternals = {
  create: (topic: string, metadata: Metadata | undefined, service: string, method: string, payload: unknown, invoke: EventInvoke): EventContext => make(topic, metadata, service, method, payload, invoke),
  invokeOf: (ctx: EventContext): EventInvoke | undefined => invokeOf(ctx),
};
