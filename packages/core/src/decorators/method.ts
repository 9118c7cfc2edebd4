import 'reflect-metadata';
import { METHOD_KEY, type MethodOptions } from './service-definition.js';

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
    if (isMethodContext(keyOrContext)) {
      if (keyOrContext.static || typeof keyOrContext.name !== 'string') {
        throw new TypeError(`@Method() goes on instance methods with string names, not on '${String(keyOrContext.name)}'`);
      }
      mark(target, keyOrContext.name, options);
      return;
    }
    const fn = descriptor?.value as unknown;
    if (typeof fn !== 'function' || typeof keyOrContext !== 'string' || typeof target === 'function') {
      throw new TypeError(`@Method() goes on instance methods with string names, not on '${String(keyOrContext)}'`);
    }
    mark(fn, keyOrContext, options);
  }) as MethodDecorator;
}

function mark(fn: unknown, property: string, options: MethodOptions): void {
  const value: MethodMark = { property, options: { ...options } };
  Reflect.defineMetadata(METHOD_KEY, value, fn as object);
}

function isMethodContext(value: unknown): value is ClassMethodDecoratorContext {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'method';
}
