import 'reflect-metadata';
import { decoratedMethod } from './method-target.js';

export interface SubscribeOptions {
  /**
   * Who shares the events of this topic: each event goes to one subscriber per group. Default:
   * the service name, so each event reaches one instance of each subscribing service.
   */
  group?: string;
  /** Every instance gets every event (no group). Default false. */
  broadcast?: boolean;
}

/** Metadata @Subscribe leaves on the method function, collected when the service is registered. */
export interface SubscribeMark {
  readonly topics: readonly { readonly topic: string; readonly options: SubscribeOptions }[];
}

export const SUBSCRIBE_KEY = Symbol.for('@svc/core:subscribe');

export interface SubscribeDecorator {
  /** Standard (TC39) decorators. */
  (value: Function, context: ClassMethodDecoratorContext): void;
  /** TypeScript's experimentalDecorators. */
  (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;
}

/**
 * Makes a method of a @Service class handle the events of `topic`:
 * `@Subscribe('orders.created') async onOrder(order: Order, ctx: EventContext) {}`. Published with
 * `client.publish('orders.created', order)`. A method may carry several @Subscribe.
 */
export function Subscribe(topic: string, options: SubscribeOptions = {}): SubscribeDecorator {
  if (typeof topic !== 'string' || topic === '') throw new TypeError('@Subscribe() needs a topic, e.g. @Subscribe("orders.created")');
  if (options.broadcast && options.group !== undefined) throw new TypeError(`@Subscribe('${topic}'): choose a group or broadcast, not both`);
  return ((target: unknown, keyOrContext: unknown, descriptor?: PropertyDescriptor): void => {
    const { fn } = decoratedMethod(`@Subscribe('${topic}')`, target, keyOrContext, descriptor);
    const previous = Reflect.getOwnMetadata(SUBSCRIBE_KEY, fn) as SubscribeMark | undefined;
    const mark: SubscribeMark = { topics: [...(previous?.topics ?? []), { topic, options: { ...options } }] };
    Reflect.defineMetadata(SUBSCRIBE_KEY, mark, fn);
  }) as SubscribeDecorator;
}
