import type { Metadata } from '../metadata.js';
import type { Channel, Transport } from '../transport/transport.js';

/**
 * Events as transports carry them: a topic, a body in a codec, and metadata. Publish/subscribe is
 * optional for a transport: one that carries events adds `subscribeEvents` to itself and
 * `publishEvent` to its channels (inproc and NATS do; TCP, point to point, does not).
 */
export interface EventMessage {
  /** Dot-separated tokens, e.g. 'orders.created'. */
  topic: string;
  codec: string;
  metadata: Metadata | undefined;
  body: Uint8Array;
}

/** One subscription of a server: a topic, and who shares its events. */
export interface EventSubscription {
  /** Topic, or a pattern where the transport supports one ('orders.*', 'orders.>'). */
  readonly topic: string;
  /**
   * Subscribers with the same group share the events: each event goes to one of them (a queue).
   * Undefined: every subscriber gets every event (broadcast).
   */
  readonly group: string | undefined;
}

/** Hands one received event to core; the promise settles when the handler has finished. */
export type EventDelivery = (subscription: EventSubscription, event: EventMessage) => void;

/** The subscriptions a transport holds for a server. */
export interface EventSubscriber {
  /** Stops receiving: after it resolves, no more events are delivered. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** A transport that carries events (the server side). */
export interface EventTransport {
  subscribeEvents(address: string, subscriptions: readonly EventSubscription[], deliver: EventDelivery): Promise<EventSubscriber>;
}

/** A channel that carries events (the client side): resolves once the event is handed on. */
export interface EventChannel {
  publishEvent(event: EventMessage): Promise<void>;
}

export function carriesEvents(transport: Transport): transport is Transport & EventTransport {
  return typeof (transport as Partial<EventTransport>).subscribeEvents === 'function';
}

export function publishesEvents(channel: Channel): channel is Channel & EventChannel {
  return typeof (channel as Partial<EventChannel>).publishEvent === 'function';
}

/** NATS-style topic matching: '*' matches one token, a final '>' one or more. */
export function topicMatches(pattern: string, topic: string): boolean {
  if (pattern === topic) return true;
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return i === p.length - 1 && t.length > i;
    if (i >= t.length) return false;
    if (p[i] !== '*' && p[i] !== t[i]) return false;
  }
  return p.length === t.length;
}
