import 'reflect-metadata';
import { METHOD_KEY, type MethodOptions } from './service-definition.js';
import { decoratedMethod } from './method-target.js';

/** Metadata @Method leaves on the method function itself, for @Service to collect. */
export interface MethodMark {
  readonly property: string;
  readonly options: MethodOptions;
}

export interface MethodDecorator {
  /** Standard (TC39) decorators. */
  (value: Function, context: ClassMethodDecoratorContext): void;
  /** TypeScript's experimentalDecorators. */
  (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;
}

/**
 * Marks a method as callable over RPC. Works with standard decorators and with
 * experimentalDecorators alike, and needs no emitDecoratorMetadata: the request and response
 * types come from svc-gen, not from runtime reflection.
 */
export function Method(options: MethodOptions = {}): MethodDecorator {
  return ((target: unknown, keyOrContext: unknown, descriptor?: PropertyDescriptor): void => {
    const { fn, property } = decoratedMethod('@Method()', target, keyOrContext, descriptor);
    const mark: MethodMark = { property, options: { ...options } };
    Reflect.defineMetadata(METHOD_KEY, mark, fn);
  }) as MethodDecorator;
}
