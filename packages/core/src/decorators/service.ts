import 'reflect-metadata';
import { METHOD_KEY, SERVICE_KEY, type MethodDefinition, type ServiceDefinition, type ServiceOptions } from './service-definition.js';
import type { MethodMark } from './method.js';
import { forEachMethod } from './method-target.js';

export interface ServiceDecorator {
  /** Standard (TC39) decorators. */
  (value: Function, context: ClassDecoratorContext): void;
  /** TypeScript's experimentalDecorators. */
  (target: Function): void;
}

/**
 * Marks a class as an RPC service named `name` (default: the class name). Its @Method methods,
 * including inherited ones, become the service's methods.
 */
export function Service(name?: string, options: ServiceOptions = {}): ServiceDecorator {
  // A common slip is @Service({ version }) for @Service('Name', { version }): it would serve '[object Object]'.
  if (name !== undefined && typeof name !== 'string') throw new TypeError(`@Service(name, options): the name must be a string, not ${typeof name}; write @Service('Name', { ... }) or @Service(undefined, { ... })`);
  return ((target: Function, context?: ClassDecoratorContext): void => {
    const serviceName = name ?? (typeof context?.name === 'string' ? context.name : target.name);
    if (!serviceName) throw new TypeError('@Service() on an anonymous class needs a name: @Service("Name")');
    const definition: ServiceDefinition = {
      name: serviceName,
      options: { ...options },
      methods: collectMethods(target),
    };
    Reflect.defineMetadata(SERVICE_KEY, definition, target);
  }) as ServiceDecorator;
}

function collectMethods(ctor: Function): Map<string, MethodDefinition> {
  const methods = new Map<string, MethodDefinition>();
  forEachMethod(ctor.prototype as object, (property, fn) => {
    const mark = Reflect.getOwnMetadata(METHOD_KEY, fn) as MethodMark | undefined;
    if (!mark) return;
    const wireName = mark.options.name ?? property;
    if (methods.has(wireName)) throw new TypeError(`@Service ${ctor.name}: two methods share the wire name '${wireName}'`);
    methods.set(wireName, { name: wireName, property, options: mark.options });
  });
  return methods;
}
