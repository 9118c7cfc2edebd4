import { invalidPolicy } from './resilience-errors.js';

/**
 * Client-side adaptive throttling of the calls to one node (adaptiveThrottle), after Google's SRE
 * book ("Handling Overload"): the client counts the attempts it sent to the node and those the
 * node accepted over the last `windowMs`, and holds back a new attempt with probability
 * max(0, (requests − multiplier × accepts) / (requests + 1)).
 */
export interface ThrottleOptions {
  /**
   * How many attempts per accepted one the client sends before it holds any back (K): 2 by
   * default. Lower holds back sooner (1.1 is aggressive); at least 1.
   */
  multiplier?: number;
  /** The window the counts cover, in ms (1 000 to 600 000; default 10 000), in ten buckets. */
  windowMs?: number;
}

export interface ResolvedThrottleOptions {
  readonly multiplier: number;
  readonly windowMs: number;
}

export const THROTTLE_DEFAULTS: ResolvedThrottleOptions = Object.freeze({ multiplier: 2, windowMs: 10_000 });

const KEYS = new Set(['multiplier', 'windowMs']);

/** The options with their defaults, checked: a bad value throws INVALID_ARGUMENT naming `path`. */
export function resolveThrottleOptions(options: ThrottleOptions | undefined, path: string): ResolvedThrottleOptions {
  if (options === undefined) return THROTTLE_DEFAULTS;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw invalidPolicy(path, 'expected an object of throttle options ({ multiplier?, windowMs? })');
  for (const key of Object.keys(options)) if (!KEYS.has(key)) throw invalidPolicy(`${path}.${key}`, 'unknown throttle option (multiplier, windowMs)');
  const multiplier = options.multiplier ?? THROTTLE_DEFAULTS.multiplier;
  if (typeof multiplier !== 'number' || !Number.isFinite(multiplier) || multiplier < 1) throw invalidPolicy(`${path}.multiplier`, `expected a number of at least 1, got ${String(multiplier)}`);
  const windowMs = options.windowMs ?? THROTTLE_DEFAULTS.windowMs;
  if (!Number.isInteger(windowMs) || windowMs < 1_000 || windowMs > 600_000) throw invalidPolicy(`${path}.windowMs`, `expected an integer from 1000 to 600000 ms, got ${String(windowMs)}`);
  return { multiplier, windowMs };
}
