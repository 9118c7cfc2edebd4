import type { MethodOptions } from '@svc/core';
import { invalidPolicy } from './resilience-errors.js';
import { describe } from './describe-value.js';

/** One level of a policy: the defaults, a service's, or a method's. */
export type PolicyLevel = Readonly<Record<string, unknown>>;

/** A policy's levels: its own keys are the defaults; `services[name]` and `services[name].methods[name]` are nearer. */
export interface PolicyTree extends PolicyLevel {
  readonly services?: Readonly<Record<string, PolicyLevel & { readonly methods?: Readonly<Record<string, PolicyLevel>> }>>;
}

/** Checks the value of one key of one level; throws invalidPolicy naming `path`. */
export type KeyCheck = (value: unknown, path: string) => void;

/**
 * Checks a whole policy when it is made: every level an object, every key known at its level and
 * its value accepted by that key's check, so a typo (`breakr`, `resetTimout`) fails at start
 * with the path to it, never on some call later.
 */
export function checkPolicyTree(tree: unknown, path: string, topOnly: Readonly<Record<string, KeyCheck>>, everyLevel: Readonly<Record<string, KeyCheck>>, methodOnly: Readonly<Record<string, KeyCheck>> = {}): void {
  const top = objectAt(tree, path);
  checkLevel(top, path, { ...topOnly, ...everyLevel, services: () => {} });
  if (top.services === undefined) return;
  const services = objectAt(top.services, `${path}.services`);
  for (const [service, value] of Object.entries(services)) {
    const servicePath = `${path}.services.${service}`;
    const level = objectAt(value, servicePath);
    checkLevel(level, servicePath, { ...everyLevel, methods: () => {} });
    if (level.methods === undefined) continue;
    for (const [method, methodValue] of Object.entries(objectAt(level.methods, `${servicePath}.methods`))) {
      const methodPath = `${servicePath}.methods.${method}`;
      checkLevel(objectAt(methodValue, methodPath), methodPath, { ...everyLevel, ...methodOnly });
    }
  }
}

function checkLevel(level: PolicyLevel, path: string, checks: Readonly<Record<string, KeyCheck>>): void {
  for (const [key, value] of Object.entries(level)) {
    const check = Object.hasOwn(checks, key) ? checks[key] : undefined;
    if (check === undefined) throw invalidPolicy(`${path}.${key}`, `unknown key; here a policy takes ${Object.keys(checks).join(', ')}`);
    if (value !== undefined) check(value, `${path}.${key}`);
  }
}

function objectAt(value: unknown, path: string): PolicyLevel {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidPolicy(path, `expected an object, got ${describe(value)}`);
  return value as PolicyLevel;
}

/**
 * The setting `key` for a method: the method's level, else the service's, else what the method's
 * `@Method` options say (`fromDecorator`, server side), else the policy's default. `false` at a
 * level is a setting (the part is off there). Names are looked up as own keys only: they come
 * from peers, and `__proto__` or `constructor` must find nothing.
 */
export function nearestSetting<T>(
  tree: PolicyTree,
  key: string,
  service: string,
  method: string,
  options: Readonly<MethodOptions> | undefined,
  fromDecorator?: (options: Readonly<MethodOptions>) => T | undefined,
): T | false | undefined {
  const services = tree.services;
  const serviceLevel = services !== undefined && Object.hasOwn(services, service) ? services[service] : undefined;
  const methods = serviceLevel?.methods;
  const methodLevel = methods !== undefined && Object.hasOwn(methods, method) ? methods[method] : undefined;
  if (methodLevel?.[key] !== undefined) return methodLevel[key] as T | false;
  if (serviceLevel?.[key] !== undefined) return serviceLevel[key] as T | false;
  if (options !== undefined && fromDecorator !== undefined) {
    const declared = fromDecorator(options);
    if (declared !== undefined) return declared;
  }
  return tree[key] as T | false | undefined;
}

/** Whether any level sets `key` to something other than false. */
export function anyLevelSets(tree: PolicyTree, key: string): boolean {
  if (tree[key] !== undefined && tree[key] !== false) return true;
  for (const service of Object.values(tree.services ?? {})) {
    if (service[key] !== undefined && service[key] !== false) return true;
    for (const method of Object.values(service.methods ?? {})) if (method[key] !== undefined && method[key] !== false) return true;
  }
  return false;
}
