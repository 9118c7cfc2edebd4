import { SUBSCRIBE_KEY, type SubscribeMark } from '../decorators/subscribe.js';
import { forEachMethod } from '../decorators/method-target.js';
import type { Codec } from '../codec/codec.js';
import { RpcError } from '../errors/rpc-error.js';
import type { Logger } from '../logger.js';
import type { Transport } from '../transport/transport.js';
import { eventContextInternals, type EventContext } from './event-context.js';
import { composeFilters, type Filter, type Terminal } from '../filter/filter.js';
import { carriesEvents, type EventMessage, type EventSubscriber, type EventSubscription } from './event-transport.js';
import { transportCarriesNoEvents } from '../errors/framework-errors.js';
import { JSON_EVENT, carriesEventPayloads, type EventSerializers } from './event-codec.js';

/** The server's codecs by name (those it accepts for calls). */
export type CodecLookup = (name: string) => Codec | undefined;

interface Handler extends EventSubscription {
  readonly service: string;
  readonly property: string;
  readonly invoke: (payload: unknown, ctx: EventContext) => unknown;
}

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
  private readonly codecs: CodecLookup;
  private readonly serializers = new Map<string, EventSerializers | string>();
  /** The server's filters around the handler, composed once; the handler itself without filters. */
  private readonly chain: Terminal;

  /**
   * `codecs`: the server's codecs by name. An event is decoded with the codec it names; a codec
   * with a schema for the topic (protobuf, schema-checked JSON) checks the payload before the
   * handler runs. Without it, only plain JSON events are accepted. `filters`: the server's
   * filters, which each delivery passes through (the call is the EventContext).
   */
  constructor(logger: () => Logger, codecs?: CodecLookup, filters: readonly Filter[] = []) {
    this.logger = logger;
    this.codecs = codecs ?? (() => undefined);
    const handler: Terminal = (call) => {
      const ctx = call as EventContext;
      try {
        return Promise.resolve(eventContextInternals.invokeOf(ctx)!(ctx.request, ctx));
      } catch (error) {
        return Promise.reject(error);
      }
    };
    this.chain = composeFilters(filters, handler);
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

  /**
   * How to read events of a topic in a codec: the codec's serializers for the topic, plain JSON
   * for a JSON event of a topic no schema knows, or why the event cannot be read.
   */
  private serializersFor(codecName: string, topic: string): EventSerializers | string {
    const key = `${codecName}\u0000${topic}`;
    const cached = this.serializers.get(key);
    if (cached !== undefined) return cached;
    const codec = this.codecs(codecName);
    let found: EventSerializers | string;
    if (codec === undefined && codecName !== 'json') found = `the event is in the codec '${codecName}', which this server does not have; give the server the generated schemas (schemas or codecs: schemaCodecs(schemas))`;
    else if (codec !== undefined && carriesEventPayloads(codec)) found = codec.forEvent(topic) ?? (codecName === 'json' ? JSON_EVENT : `the server has no schema for the topic in the codec '${codecName}'; regenerate with svc-gen and give the server the schemas`);
    else if (codecName === 'json') found = JSON_EVENT;
    else found = `the codec '${codecName}' does not carry events`;
    this.serializers.set(key, found);
    return found;
  }

  private async deliver(handler: Handler, event: EventMessage): Promise<void> {
    this.running++;
    try {
      // Events have no caller to answer: an event that cannot be read, or does not fit the
      // schema, is logged with the field and not handed to the handler.
      const serializers = this.serializersFor(event.codec, event.topic);
      if (typeof serializers === 'string') {
        this.logger().warn(`${handler.service}.${handler.property} did not get an event: event '${event.topic}': ${serializers}`);
        return;
      }
      let payload: unknown;
      try {
        payload = serializers.decode(event.body);
      } catch (error) {
        const detail = RpcError.is(error) ? error.message : `event '${event.topic}': the ${event.codec} body cannot be read (${(error as Error)?.message ?? String(error)})`;
        this.logger().warn(`${handler.service}.${handler.property} did not get an event: ${detail}`);
        return;
      }
      // Through the server's filters: one that throws keeps the event from the handler (logged below).
      await this.chain(eventContextInternals.create(event.topic, event.metadata, handler.service, handler.property, payload, handler.invoke));
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
