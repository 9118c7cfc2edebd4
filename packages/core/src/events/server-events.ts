import { SUBSCRIBE_KEY, type SubscribeMark } from '../decorators/subscribe.js';
import { forEachMethod } from '../decorators/method-target.js';
import { jsonCodec } from '../codec/json-codec.js';
import type { Logger } from '../logger.js';
import type { Transport } from '../transport/transport.js';
import { EventContext } from './event-context.js';
import { carriesEvents, type EventMessage, type EventSubscriber, type EventSubscription } from './event-transport.js';
import { transportCarriesNoEvents } from '../errors/framework-errors.js';

interface Handler extends EventSubscription {
  readonly service: string;
  readonly property: string;
  readonly invoke: (payload: unknown, ctx: EventContext) => unknown;
}

const JSON_SERIALIZERS = jsonCodec().forMethod('', '')!;

/**
 * The server's side of events: the @Subscribe methods of its services, the subscriptions the
 * transports hold for them, and the handlers running now (so that close() can wait for them).
 * At most once: an event whose handler throws is logged, not redelivered.
 */
export class ServerEvents {
  private readonly logger: () => Logger;
  private readonly handlers: Handler[] = [];
  private readonly subscribers: EventSubscriber[] = [];
  private running = 0;
  private idle: (() => void) | undefined;

  constructor(logger: () => Logger) {
    this.logger = logger;
  }

  get subscriptionCount(): number {
    return this.handlers.length;
  }

  /** Collects the @Subscribe methods of a service instance (and of its base classes). */
  add(instance: object, service: string): void {
    forEachMethod(Object.getPrototypeOf(instance) as object, (property, fn) => {
      const mark = Reflect.getOwnMetadata(SUBSCRIBE_KEY, fn) as SubscribeMark | undefined;
      for (const { topic, options } of mark?.topics ?? []) {
        const group = options.broadcast ? undefined : (options.group ?? service);
        this.handlers.push({ topic, group, service, property, invoke: (fn as Handler['invoke']).bind(instance) });
      }
    });
  }

  /** Subscribes the handlers on the transport a server listens with, at the same address. */
  async attach(transport: Transport, address: string): Promise<void> {
    if (this.handlers.length === 0) return;
    if (!carriesEvents(transport)) {
      // A server may listen on several transports; events come through those that carry them.
      this.logger().warn(transportCarriesNoEvents(address, this.handlers.map((h) => h.topic)).message);
      return;
    }
    const subscriber = await transport.subscribeEvents(address, this.handlers, (subscription, event) => {
      void this.deliver(subscription as Handler, event);
    });
    this.subscribers.push(subscriber);
  }

  private async deliver(handler: Handler, event: EventMessage): Promise<void> {
    this.running++;
    try {
      if (event.codec !== 'json') throw new Error(`events in codec '${event.codec}' are not supported yet; publish JSON`);
      const payload = JSON_SERIALIZERS.decodeRequest(event.body);
      await handler.invoke(payload, new EventContext(event.topic, event.metadata, handler.service));
    } catch (error) {
      this.logger().warn(`event handler ${handler.service}.${handler.property} for '${event.topic}' failed: ${(error as Error)?.message ?? String(error)}`);
    } finally {
      if (--this.running === 0) this.idle?.();
    }
  }

  /** Stops receiving, then waits for the handlers that are running. */
  async drain(): Promise<void> {
    await Promise.all(this.subscribers.map((s) => s.drain()));
    if (this.running > 0) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  async close(): Promise<void> {
    const subscribers = this.subscribers.splice(0);
    await Promise.all(subscribers.map((s) => s.close()));
  }
}
