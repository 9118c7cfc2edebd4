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
    checkMethodOptions(property, options);
    const mark: MethodMark = { property, options: { ...options } };
    Reflect.defineMetadata(METHOD_KEY, mark, fn);
  }) as MethodDecorator;
}

/** Refuses options a bulkhead or an auth filter could not use, where the method is declared. */
function checkMethodOptions(property: string, options: MethodOptions): void {
  const { concurrency, queue, roles } = options;
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new TypeError(`@Method({ concurrency }) on '${property}' must be an integer of at least 1, got ${String(concurrency)}`);
  }
  if (queue !== undefined && !(Number.isInteger(queue) && queue >= 0)) {
    throw new TypeError(`@Method({ queue }) on '${property}' must be an integer of at least 0, got ${String(queue)}`);
  }
  if (roles !== undefined && !(Array.isArray(roles) && roles.every((r) => typeof r === 'string' && r !== ''))) {
    throw new TypeError(`@Method({ roles }) on '${property}' must be a list of non-empty role names`);
  }
}
