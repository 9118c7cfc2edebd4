import type { Code } from '../errors/codes.js';
import type { RpcError } from '../errors/rpc-error.js';

/**
 * What a client does when a call fails (docs/fail-modes.md):
 * - `failfast`: fail at once (the default); a call that never reached a handler (`not_sent`,
 *   `refused`) is still tried once more on another node, transparently.
 * - `failover`: try another node, never one this call already tried.
 * - `failretry`: try the same node again, after a backoff with jitter (gRPC A6).
 * - `failsafe`: fail fast, but resolve with the declared `fallback` instead of the error.
 * - `failbackup`: hedge: if no answer came after a delay (fixed, or the method's observed p95),
 *   send the same call to another node; the first answer wins, the others are cancelled.
 */
export type FailMode = 'failfast' | 'failover' | 'failretry' | 'failsafe' | 'failbackup';

export interface BackoffOptions {
  /** First retry waits up to this long (uniform jitter from 0). Default 100 ms. */
  initialMs?: number;
  /** Each further retry may wait this much longer. Default 2. */
  multiplier?: number;
  /** No wait is longer. Default 5 000 ms. */
  maxMs?: number;
}

export interface FailPolicy {
  mode: FailMode;
  /** Attempts in all, the first included: default 3, at most 5. A `not_sent` retry does not count. */
  maxAttempts?: number;
  /** Waits between failretry attempts (and the cap on pushback-free retries). */
  backoff?: BackoffOptions;
  /** failbackup: milliseconds to wait before the next hedge, or 'p95' (default): the method's observed 95th percentile. */
  hedgeDelay?: number | 'p95';
  /**
   * failbackup: the most hedges may add over time, as a share of the method's calls (each call
   * adds this much of a token to a bucket of 100, each hedge takes one). Default 0.1: hedging at
   * the p95 sends about 5 % when the servers keep up; a full bucket lets a burst through (a node
   * that dies holding calls), while a saturated client, where hedges add the very load that slows
   * the calls, cannot hedge a quarter of them.
   */
  maxExtraLoad?: number;
  /**
   * The most one attempt may take, in ms (0 or absent: only the call's deadline). An attempt that
   * runs out is cancelled on the wire and fails with DEADLINE_EXCEEDED, progress processed, which
   * a retrying mode may retry like UNAVAILABLE (for idempotent methods): the way to get past a
   * node that died holding the call without telling anyone (a NATS queue-group member).
   */
  attemptTimeout?: number;
  /**
   * After `processed` (a handler may have run), retry only these codes; default: the error's
   * `retryable` flag (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED unless the server said otherwise).
   */
  retryOn?: readonly Code[];
}

/** Settings per service or method (ClientOptions.services); the nearest layer wins, field by field. */
export interface MethodPolicy {
  failMode?: FailMode | FailPolicy;
  /** Safe to run twice: overrides what the schema says (`@Method({ idempotent })`). */
  idempotent?: boolean;
  /** Default timeout of the method's calls in ms; overrides the schema's `@Method({ timeout })`. */
  timeout?: number;
  /** As CallOptions.fallback, for every call of the method (or service). */
  fallback?: unknown;
}

export interface ServicePolicy extends MethodPolicy {
  methods?: Readonly<Record<string, MethodPolicy>>;
}

/** A policy with every field decided, made once per method (and per call only when a call overrides it). */
export interface ResolvedPolicy {
  readonly mode: FailMode;
  readonly maxAttempts: number;
  readonly initialMs: number;
  readonly multiplier: number;
  readonly maxMs: number;
  readonly hedgeDelay: number | 'p95';
  /** Ms per attempt; 0: none. */
  readonly attemptTimeout: number;
  readonly maxExtraLoad: number;
  readonly retryOn: ReadonlySet<Code> | undefined;
  readonly idempotent: boolean;
  /** Timeout in ms (0: none) when the call gives none. */
  readonly timeout: number;
  readonly fallback: Fallback | undefined;
  /** Retries or hedges at all: the budget and attempt bookkeeping are needed. */
  readonly retries: boolean;
}

export type Fallback = { readonly value: unknown };

export const MAX_ATTEMPTS = 5;
const DEFAULT_ATTEMPTS = 3;

/** One layer of settings, as found in ClientOptions, a schema or CallOptions. */
export interface PolicyLayer {
  failMode?: FailMode | FailPolicy | undefined;
  idempotent?: boolean | undefined;
  timeout?: number | undefined;
  /** Present (even as undefined's absence) means a fallback was declared. */
  fallback?: unknown;
}

/** Merges layers, outermost first: a later layer's fields override earlier ones. */
export function resolvePolicy(layers: readonly (PolicyLayer | undefined)[]): ResolvedPolicy {
  let mode: FailMode = 'failfast';
  let maxAttempts: number | undefined;
  let initialMs = 100;
  let multiplier = 2;
  let maxMs = 5_000;
  let hedgeDelay: number | 'p95' = 'p95';
  let attemptTimeout = 0;
  let maxExtraLoad = 0.1;
  let retryOn: readonly Code[] | undefined;
  let idempotent = false;
  let timeout = 0;
  let fallback: Fallback | undefined;
  for (const layer of layers) {
    if (layer === undefined) continue;
    const fm = layer.failMode;
    if (typeof fm === 'string') mode = fm;
    else if (fm !== undefined) {
      mode = fm.mode;
      if (fm.maxAttempts !== undefined) maxAttempts = fm.maxAttempts;
      if (fm.backoff?.initialMs !== undefined) initialMs = fm.backoff.initialMs;
      if (fm.backoff?.multiplier !== undefined) multiplier = fm.backoff.multiplier;
      if (fm.backoff?.maxMs !== undefined) maxMs = fm.backoff.maxMs;
      if (fm.hedgeDelay !== undefined) hedgeDelay = fm.hedgeDelay;
      if (fm.attemptTimeout !== undefined) attemptTimeout = fm.attemptTimeout;
      if (fm.maxExtraLoad !== undefined) maxExtraLoad = fm.maxExtraLoad;
      if (fm.retryOn !== undefined) retryOn = fm.retryOn;
    }
    if (layer.idempotent !== undefined) idempotent = layer.idempotent;
    if (layer.timeout !== undefined) timeout = layer.timeout;
    if ('fallback' in layer && layer.fallback !== undefined) fallback = { value: layer.fallback };
  }
  const retrying = mode === 'failover' || mode === 'failretry' || mode === 'failbackup';
  const attempts = retrying ? clampAttempts(maxAttempts ?? DEFAULT_ATTEMPTS) : 1;
  return {
    mode,
    maxAttempts: attempts,
    initialMs: nonNegative(initialMs),
    multiplier: multiplier >= 1 ? multiplier : 1,
    maxMs: nonNegative(maxMs),
    hedgeDelay: hedgeDelay === 'p95' ? 'p95' : nonNegative(hedgeDelay),
    attemptTimeout: nonNegative(attemptTimeout),
    maxExtraLoad: Number.isFinite(maxExtraLoad) && maxExtraLoad > 0 ? Math.min(1, maxExtraLoad) : 0,
    retryOn: retryOn === undefined ? undefined : new Set(retryOn),
    idempotent,
    timeout: nonNegative(timeout),
    fallback,
    retries: attempts > 1,
  };
}

/** The same policy without retries or hedges: for calls made by a handler whose own call is a retry (ChainStop). */
export function withoutRetries(policy: ResolvedPolicy): ResolvedPolicy {
  if (!policy.retries) return policy;
  return { ...policy, maxAttempts: 1, retries: false };
}

/** gRPC A6: the n-th retry (n ≥ 1) waits random(0, min(initial × multiplier^(n−1), max)). */
export function backoffDelay(policy: ResolvedPolicy, retry: number): number {
  const ceiling = Math.min(policy.initialMs * Math.pow(policy.multiplier, retry - 1), policy.maxMs);
  return Math.random() * ceiling;
}

/** May a call that failed with `error` be tried again, as far as the method and the error go? */
export function retryableFailure(policy: ResolvedPolicy, error: RpcError): boolean {
  if (error.progress === 'processed') {
    if (!policy.idempotent) return false;
    return policy.retryOn !== undefined ? policy.retryOn.has(error.code) : error.retryable;
  }
  return error.retryable;
}

function clampAttempts(n: number): number {
  return Number.isFinite(n) ? Math.max(1, Math.min(MAX_ATTEMPTS, Math.floor(n))) : MAX_ATTEMPTS;
}

function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}
