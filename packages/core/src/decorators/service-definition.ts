import 'reflect-metadata';

export interface ServiceOptions {
  /** Semantic version of the service contract, e.g. '1.0.0'; registries can route on it. */
  version?: string;
  description?: string;
}

export interface MethodOptions {
  /** Server-side limit in ms: the handler's deadline is the smaller of this and the caller's. */
  timeout?: number;
  /** Safe to run twice: fail modes may retry or hedge it. */
  idempotent?: boolean;
  /** The method's name on the wire, if not the property name. */
  name?: string;
  /**
   * Server side, read by @svc/resilience's bulkhead: at most this many calls of the method run at
   * once; more wait in a queue of `queue` calls (default 0), and beyond it are refused.
   */
  concurrency?: number;
  /** Calls that may wait for a `concurrency` slot; beyond, RESOURCE_EXHAUSTED. */
  queue?: number;
  /**
   * Server side, read by @svc/resilience's auth: the caller must hold one of these roles
   * (PERMISSION_DENIED otherwise). An empty list: any authenticated caller.
   */
  roles?: readonly string[];
}

export interface MethodDefinition {
  /** Name on the wire. */
  readonly name: string;
  /** Property of the class that implements it. */
  readonly property: string;
  readonly options: Readonly<MethodOptions>;
}

export interface ServiceDefinition {
  readonly name: string;
  readonly options: Readonly<ServiceOptions>;
  readonly methods: ReadonlyMap<string, MethodDefinition>;
}

export const SERVICE_KEY = Symbol.for('@svc/core:service');
export const METHOD_KEY = Symbol.for('@svc/core:method');

/** The definition @Service stored on a class, or undefined for an unmarked class. */
export function getServiceDefinition(target: object): ServiceDefinition | undefined {
  const ctor = typeof target === 'function' ? target : target.constructor;
  return Reflect.getOwnMetadata(SERVICE_KEY, ctor) as ServiceDefinition | undefined;
}
