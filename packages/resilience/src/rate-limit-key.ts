import type { Call } from '@svc/core';
import type { LimitSpec } from './rate-limit-options.js';

/**
 * Who a per-caller limit counts a call against: the value of its metadata key, or '' for calls
 * without one (they share one budget; refusing unidentified callers is auth's job). Own keys
 * only: a client's metadata is a plain object, where 'constructor' must not read as sent.
 */
export function callerOf(call: Call, metadataKey: string): string {
  const metadata = call.metadata;
  return Object.hasOwn(metadata, metadataKey) ? metadata[metadataKey]! : '';
}

/**
 * Whose budget a limit is, for messages: "Shop.order", "Shop", or "each caller ('x-api-key') of
 * Shop". The caller's value is not named: it may be a secret (an API key) and messages are logged.
 */
export function scopeName(spec: LimitSpec, service: string, method: string): string {
  if (spec.key === 'method') return `${service}.${method}`;
  if (spec.key === 'service') return service;
  return `each caller ('${spec.callerKey}') of ${service}`;
}

/**
 * The budget's name in Redis: the same in every process with the same limit, different for
 * different limits (the limit's figures are in it) and for different scopes. Caller values are
 * length-prefixed so no value can forge another scope's key.
 */
export function redisKeyOf(prefix: string, spec: LimitSpec, service: string, method: string, caller: string): string {
  const head = `${prefix}${spec.id}:${service.length}:${service}`;
  if (spec.key === 'service') return `${head}:s`;
  if (spec.key === 'method') return `${head}:m:${method}`;
  return `${head}:c:${spec.callerKey.length}:${spec.callerKey}:${caller}`;
}

/** The key of a budget inside this process (same rule, without the prefix). */
export function budgetKeyOf(spec: LimitSpec, service: string, method: string): string {
  return redisKeyOf('', spec, service, method, '');
}
