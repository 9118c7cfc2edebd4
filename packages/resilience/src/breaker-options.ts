import { saysNodeUnwell, type RpcError } from '@svc/core';
import { invalidPolicy } from './resilience-errors.js';
import { describe } from './describe-value.js';
import type { BreakerStateChange } from './breaker-state.js';

/** Settings both modes share. */
interface BreakerCommonOptions {
  /** Ms an open breaker waits before it lets one probe call through (half-open). Default 10 000. */
  resetTimeout?: number;
  /**
   * Which failed attempts count against the node. Default: those that say the node is unwell
   * (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, RESOURCE_EXHAUSTED); a caller's mistake
   * (INVALID_ARGUMENT, NOT_FOUND, …) or a cancel (CANCELLED, a lost hedge too) does not.
   */
  isFailure?: (error: RpcError) => boolean;
}

/** Error-percentage mode (opossum's own): opens when too large a share of the window's calls failed. */
export interface PercentageBreakerOptions extends BreakerCommonOptions {
  /** Opens when more than this percentage of the window's calls failed (0 ≤ p < 100). Default 50. */
  errorThresholdPercentage?: number;
  /** Calls the window must hold before it may open at all. Default 10. */
  volumeThreshold?: number;
  /** The window, ms. Default 10 000. */
  rollingCountTimeout?: number;
  /** Buckets the window is counted in (it slides one bucket at a time). Default 10. */
  rollingCountBuckets?: number;
}

/** Count mode: opens after `failures` counted failures within the last `windowMs`, whatever the successes. */
export interface CountBreakerOptions extends BreakerCommonOptions {
  failures: number;
  windowMs: number;
}

/** The options of the breakers of one method: one of the two modes (never a mix of their keys). */
export type BreakerOptions = PercentageBreakerOptions | CountBreakerOptions;

/** Options of a breaker with every field decided; made once per method. */
export interface ResolvedBreakerOptions {
  readonly mode: 'percentage' | 'count';
  /** Count mode: failures in the window that open it (0 in percentage mode). */
  readonly failures: number;
  readonly errorThresholdPercentage: number;
  readonly volumeThreshold: number;
  readonly rollingCountTimeout: number;
  readonly rollingCountBuckets: number;
  /** How often the window slides: rollingCountTimeout / rollingCountBuckets, rounded down (as opossum does). */
  readonly bucketMs: number;
  readonly resetTimeout: number;
  readonly isFailure: (error: RpcError) => boolean;
}

export const BREAKER_DEFAULTS = {
  errorThresholdPercentage: 50,
  volumeThreshold: 10,
  rollingCountTimeout: 10_000,
  rollingCountBuckets: 10,
  resetTimeout: 10_000,
} as const;

/** Buckets of a count-mode window (fewer when the window is shorter than 10 ms). */
const COUNT_MODE_BUCKETS = 10;

/** setTimeout's limit: a longer delay fires at once (with a warning). */
const MAX_MS = 2 ** 31 - 1;

const COMMON_KEYS = ['resetTimeout', 'isFailure'];
const PERCENTAGE_KEYS = ['errorThresholdPercentage', 'volumeThreshold', 'rollingCountTimeout', 'rollingCountBuckets', ...COMMON_KEYS];
const COUNT_KEYS = ['failures', 'windowMs', ...COMMON_KEYS];

/**
 * Checks breaker options and fills in the defaults; throws invalidPolicy naming the key (a typo
 * such as `resetTimout` fails here, when the breakers are made, not on some later call).
 */
export function resolveBreakerOptions(value: unknown, path: string): ResolvedBreakerOptions {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidPolicy(path, `expected breaker options (an object, or false for no breaker), got ${describe(value)}`);
  const options = value as Record<string, unknown>;
  const count = 'failures' in options || 'windowMs' in options;
  const known = count ? COUNT_KEYS : PERCENTAGE_KEYS;
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    if (count && PERCENTAGE_KEYS.includes(key)) throw invalidPolicy(`${path}.${key}`, 'belongs to the error-percentage mode, but failures/windowMs choose the count mode; use one mode');
    throw invalidPolicy(`${path}.${key}`, `unknown option; a breaker knows ${known.join(', ')}${count ? '' : ' (or failures and windowMs for the count mode)'}`);
  }
  const resetTimeout = milliseconds(options, 'resetTimeout', path, BREAKER_DEFAULTS.resetTimeout);
  const isFailure = options.isFailure ?? saysNodeUnwell;
  if (typeof isFailure !== 'function') throw invalidPolicy(`${path}.isFailure`, `expected a function (error) => boolean, got ${describe(isFailure)}`);
  if (count) {
    if (options.failures === undefined) throw invalidPolicy(`${path}.failures`, 'the count mode needs both failures and windowMs');
    if (options.windowMs === undefined) throw invalidPolicy(`${path}.windowMs`, 'the count mode needs both failures and windowMs');
    const failures = integer(options, 'failures', path, 1, Number.MAX_SAFE_INTEGER, 0);
    const windowMs = milliseconds(options, 'windowMs', path, 0);
    const buckets = Math.min(COUNT_MODE_BUCKETS, windowMs);
    return {
      mode: 'count',
      failures,
      // The count rule decides, never the share (Infinity: a call that outlived the window leaves
      // a failure whose fire has rotated out, a share above 100 %).
      errorThresholdPercentage: Infinity,
      volumeThreshold: 0,
      rollingCountTimeout: windowMs,
      rollingCountBuckets: buckets,
      bucketMs: Math.floor(windowMs / buckets),
      resetTimeout,
      isFailure: isFailure as (error: RpcError) => boolean,
    };
  }
  const percentage = options.errorThresholdPercentage ?? BREAKER_DEFAULTS.errorThresholdPercentage;
  if (typeof percentage !== 'number' || !(percentage >= 0 && percentage < 100)) {
    throw invalidPolicy(`${path}.errorThresholdPercentage`, `expected a number from 0 up to (not including) 100: the breaker opens when more than this share of calls failed; got ${describe(percentage)}`);
  }
  const volumeThreshold = integer(options, 'volumeThreshold', path, 0, Number.MAX_SAFE_INTEGER, BREAKER_DEFAULTS.volumeThreshold);
  const rollingCountTimeout = milliseconds(options, 'rollingCountTimeout', path, BREAKER_DEFAULTS.rollingCountTimeout);
  const rollingCountBuckets = integer(options, 'rollingCountBuckets', path, 1, rollingCountTimeout, BREAKER_DEFAULTS.rollingCountBuckets);
  return {
    mode: 'percentage',
    failures: 0,
    errorThresholdPercentage: percentage,
    volumeThreshold,
    rollingCountTimeout,
    rollingCountBuckets,
    bucketMs: Math.floor(rollingCountTimeout / rollingCountBuckets),
    resetTimeout,
    isFailure: isFailure as (error: RpcError) => boolean,
  };
}

/** Options of `circuitBreakers` itself. */
export interface CircuitBreakersOptions {
  /** Breakers kept at most (one per service, method and node); the least recently used is shut down past it. Default 1 000. */
  maxBreakers?: number;
  /** Told of every state change (also through `on('stateChange', …)`). */
  onStateChange?: (change: BreakerStateChange) => void;
}

export const DEFAULT_MAX_BREAKERS = 1000;

export function resolveCircuitBreakersOptions(value: unknown, path: string): { maxBreakers: number; onStateChange: ((change: BreakerStateChange) => void) | undefined } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidPolicy(path, `expected an object, got ${describe(value)}`);
  const options = value as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (key !== 'maxBreakers' && key !== 'onStateChange') throw invalidPolicy(`${path}.${key}`, 'unknown option; circuitBreakers knows maxBreakers, onStateChange');
  }
  const maxBreakers = integer(options, 'maxBreakers', path, 1, Number.MAX_SAFE_INTEGER, DEFAULT_MAX_BREAKERS);
  const onStateChange = options.onStateChange;
  if (onStateChange !== undefined && typeof onStateChange !== 'function') throw invalidPolicy(`${path}.onStateChange`, `expected a function (change) => void, got ${describe(onStateChange)}`);
  return { maxBreakers, onStateChange: onStateChange as ((change: BreakerStateChange) => void) | undefined };
}

function integer(options: Record<string, unknown>, key: string, path: string, min: number, max: number, fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidPolicy(`${path}.${key}`, `expected a whole number from ${min} to ${max === Number.MAX_SAFE_INTEGER ? 'any size' : max}, got ${describe(value)}`);
  }
  return value;
}

function milliseconds(options: Record<string, unknown>, key: string, path: string, fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_MS) {
    throw invalidPolicy(`${path}.${key}`, `expected whole milliseconds from 1 to ${MAX_MS}, got ${describe(value)}`);
  }
  return value;
}

