import { describe } from './describe-value.js';
import { invalidPolicy } from './resilience-errors.js';

/**
 * Checks that `options` is an object with no key outside `known`, so a typo (`audiance`) fails
 * when the part is made, naming the key, instead of silently checking less.
 */
export function checkAuthOptions(path: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw invalidPolicy(path, `expected an options object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw invalidPolicy(`${path}.${key}`, `unknown option; known: ${known.join(', ')}`);
  }
  return options as Record<string, unknown>;
}


/** One name or a list of names (audiences, issuers, roles), each a non-empty string. */
export function checkNames(path: string, value: unknown): readonly string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((item) => typeof item === 'string' && item !== '')) {
    throw invalidPolicy(path, `expected a non-empty string or a non-empty list of them, got ${describe(value)}`);
  }
  return Object.freeze([...(list as string[])]);
}

/** A metadata key: lower case (the wire keeps keys as they are sent; clients send lower case). */
export function checkMetadataKey(path: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(value)) throw invalidPolicy(path, `expected a lower-case metadata key such as 'authorization', got ${describe(value)}`);
  return value;
}
