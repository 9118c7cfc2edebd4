import type { Redis } from 'ioredis';
import { invalidPolicy } from './resilience-errors.js';

/**
 * Whose calls share one budget: every call of the service, of each method (the default), or of
 * each caller, told apart by the value of a request metadata key (an API key, a tenant). A call
 * without that key is not refused here (auth does that): all such calls share the budget of the
 * caller ''.
 */
export type RateLimitKey = 'service' | 'method' | { readonly metadata: string };

/**
 * One rate limit. Either a token bucket, `reservoir` calls per `refreshIntervalMs` (bursts of up to
 * `reservoir`, refilled continuously), or a minimum spacing, `minTimeMs` between two calls.
 */
export interface RateLimitOptions {
  readonly key?: RateLimitKey;
  readonly reservoir?: number;
  readonly refreshIntervalMs?: number;
  readonly minTimeMs?: number;
  /** Calls that may wait for a slot at once (per budget, per process); 0 (default) refuses at once. */
  readonly queue?: number;
  /** A call that would wait longer than this (or past its deadline) is refused at once. Default 1000. */
  readonly maxWaitMs?: number;
  /** Per-caller budgets kept (least recently used out). Default 10 000. */
  readonly maxKeys?: number;
}

/** Where the cluster-wide budgets live: a Redis address (the limiter makes and closes its client) or an ioredis client (used, never closed). */
export type ClusterRedis = { readonly host: string; readonly port: number; readonly username?: string; readonly password?: string; readonly db?: number } | Redis;

/** One budget shared by every process that uses the same Redis, prefix and limit. */
export interface ClusterLimitOptions {
  readonly redis: ClusterRedis;
  /** Prefix of the Redis keys. Default 'svc:rate:'. */
  readonly prefix?: string;
  /**
   * While Redis cannot be reached: true (default) lets calls through under this process's own
   * copy of the limit; false refuses them (UNAVAILABLE).
   */
  readonly failOpen?: boolean;
  /** How long a call waits for Redis before it counts as down. Default 100 ms. */
  readonly timeoutMs?: number;
  /** After a timeout, how long Redis is left alone (calls go the failOpen way at once). Default 1000 ms. */
  readonly retryAfterMs?: number;
}

export interface RateLimiterOptions {
  readonly cluster?: ClusterLimitOptions;
}

/** A limit as the budgets use it (GCRA: each call moves a theoretical arrival time on by intervalMs; a call fits while that stays within toleranceMs of now). */
export interface LimitSpec {
  readonly key: 'service' | 'method' | 'caller';
  /** The metadata key of a per-caller limit, '' otherwise. */
  readonly callerKey: string;
  readonly intervalMs: number;
  readonly toleranceMs: number;
  readonly queue: number;
  readonly maxWaitMs: number;
  readonly maxKeys: number;
  /** "50 calls per 100 ms" or "1 call per 20 ms": for messages. */
  readonly describe: string;
  /** Names the limit in Redis keys, so processes with the same limit share a budget and different limits never mix. */
  readonly id: string;
}

const LIMIT_KEYS = new Set(['key', 'reservoir', 'refreshIntervalMs', 'minTimeMs', 'queue', 'maxWaitMs', 'maxKeys']);
const CLUSTER_KEYS = new Set(['redis', 'prefix', 'failOpen', 'timeoutMs', 'retryAfterMs']);
const REDIS_ADDRESS_KEYS = new Set(['host', 'port', 'username', 'password', 'db']);
const DEFAULT_MAX_WAIT_MS = 1000;
const DEFAULT_MAX_KEYS = 10_000;

/** Checks one limit and turns it into the budgets' terms; throws invalidPolicy naming the key at fault. */
export function limitSpec(options: unknown, path: string): LimitSpec {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalidPolicy(path, `a rate limit is an object such as { reservoir: 100, refreshIntervalMs: 1000 } or { minTimeMs: 10 }, or false; got ${show(options)}`);
  const o = options as Record<string, unknown>;
  for (const name of Object.keys(o)) {
    if (!LIMIT_KEYS.has(name)) throw invalidPolicy(`${path}.${name}`, `unknown option; a rate limit takes ${[...LIMIT_KEYS].join(', ')}`);
  }
  const key = keyOf(o.key, `${path}.key`);
  const bucket = o.reservoir !== undefined || o.refreshIntervalMs !== undefined;
  if (bucket && o.minTimeMs !== undefined) throw invalidPolicy(`${path}.minTimeMs`, 'give either a token bucket (reservoir and refreshIntervalMs) or a minimum spacing (minTimeMs), not both');
  if (!bucket && o.minTimeMs === undefined) throw invalidPolicy(path, 'give reservoir and refreshIntervalMs (N calls per T ms) or minTimeMs (at least T ms between calls)');
  let intervalMs: number;
  let toleranceMs: number;
  let describe: string;
  if (bucket) {
    const reservoir = positiveInteger(o.reservoir, `${path}.reservoir`, 'the calls allowed per refreshIntervalMs');
    const refreshMs = positiveNumber(o.refreshIntervalMs, `${path}.refreshIntervalMs`, 'the time in which reservoir calls are allowed');
    intervalMs = refreshMs / reservoir;
    toleranceMs = refreshMs;
    describe = `${reservoir} call${reservoir === 1 ? '' : 's'} per ${refreshMs} ms`;
  } else {
    const minTimeMs = positiveNumber(o.minTimeMs, `${path}.minTimeMs`, 'the least time between two calls');
    intervalMs = minTimeMs;
    toleranceMs = minTimeMs;
    describe = `1 call per ${minTimeMs} ms`;
  }
  const queue = o.queue === undefined ? 0 : nonNegativeInteger(o.queue, `${path}.queue`, 'the calls that may wait for a slot');
  const maxWaitMs = o.maxWaitMs === undefined ? DEFAULT_MAX_WAIT_MS : nonNegativeNumber(o.maxWaitMs, `${path}.maxWaitMs`, 'how long a queued call may wait');
  const maxKeys = o.maxKeys === undefined ? DEFAULT_MAX_KEYS : positiveInteger(o.maxKeys, `${path}.maxKeys`, 'the per-caller budgets kept');
  const callerKey = typeof key === 'object' ? key.metadata : '';
  return {
    key: typeof key === 'object' ? 'caller' : key,
    callerKey,
    intervalMs,
    toleranceMs,
    queue,
    maxWaitMs,
    maxKeys,
    describe,
    id: `${intervalMs}/${toleranceMs}`,
  };
}

/** Checks a limit where a policy object is made; throws invalidPolicy naming the key at fault. */
export function checkRateLimitOptions(options: unknown, path: string): void {
  limitSpec(options, path);
}

/** Checks the cluster options when the limiter is made. */
export function checkClusterOptions(options: unknown, path: string): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalidPolicy(path, `cluster is an object such as { redis: { host: '127.0.0.1', port: 6379 } }; got ${show(options)}`);
  const o = options as Record<string, unknown>;
  for (const name of Object.keys(o)) {
    if (!CLUSTER_KEYS.has(name)) throw invalidPolicy(`${path}.${name}`, `unknown option; cluster takes ${[...CLUSTER_KEYS].join(', ')}`);
  }
  const redis = o.redis;
  if (typeof redis !== 'object' || redis === null) throw invalidPolicy(`${path}.redis`, `give { host, port } or an ioredis client; got ${show(redis)}`);
  if (!isRedisClient(redis)) {
    const r = redis as Record<string, unknown>;
    for (const name of Object.keys(r)) {
      if (!REDIS_ADDRESS_KEYS.has(name)) throw invalidPolicy(`${path}.redis.${name}`, `unknown option; a Redis address takes ${[...REDIS_ADDRESS_KEYS].join(', ')} (or pass an ioredis client for anything more)`);
    }
    if (typeof r.host !== 'string' || r.host === '') throw invalidPolicy(`${path}.redis.host`, `a host name or address, got ${show(r.host)}`);
    if (!(Number.isInteger(r.port) && (r.port as number) >= 1 && (r.port as number) <= 65_535)) throw invalidPolicy(`${path}.redis.port`, `a port 1..65535, got ${show(r.port)}`);
    if (r.db !== undefined) nonNegativeInteger(r.db, `${path}.redis.db`, 'the Redis database number');
    for (const name of ['username', 'password'] as const) {
      if (r[name] !== undefined && typeof r[name] !== 'string') throw invalidPolicy(`${path}.redis.${name}`, 'a string');
    }
  }
  if (o.prefix !== undefined && typeof o.prefix !== 'string') throw invalidPolicy(`${path}.prefix`, `a string, got ${show(o.prefix)}`);
  if (o.failOpen !== undefined && typeof o.failOpen !== 'boolean') throw invalidPolicy(`${path}.failOpen`, `true (let calls through under each process's own limit while Redis is down) or false (refuse them); got ${show(o.failOpen)}`);
  if (o.timeoutMs !== undefined) positiveNumber(o.timeoutMs, `${path}.timeoutMs`, 'how long a call waits for Redis');
  if (o.retryAfterMs !== undefined) nonNegativeNumber(o.retryAfterMs, `${path}.retryAfterMs`, 'how long Redis is left alone after a timeout');
}

/** An ioredis client rather than an address: it has the methods the limiter calls. */
export function isRedisClient(value: object): value is Redis {
  return typeof (value as { evalsha?: unknown }).evalsha === 'function' && typeof (value as { eval?: unknown }).eval === 'function';
}

function keyOf(value: unknown, path: string): RateLimitKey {
  if (value === undefined) return 'method';
  if (value === 'service' || value === 'method') return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    for (const name of Object.keys(o)) if (name !== 'metadata') throw invalidPolicy(`${path}.${name}`, "unknown option; a per-caller key is { metadata: '<request metadata key>' }");
    if (typeof o.metadata === 'string' && o.metadata !== '') return { metadata: o.metadata };
    throw invalidPolicy(`${path}.metadata`, `the request metadata key that names the caller (such as 'x-api-key'; case-sensitive, as metadata keys are), got ${show(o.metadata)}`);
  }
  throw invalidPolicy(path, `'service', 'method' or { metadata: '<key>' }, got ${show(value)}`);
}

function positiveInteger(value: unknown, path: string, what: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value;
  throw invalidPolicy(path, `${what}: an integer ≥ 1, got ${show(value)}`);
}

function nonNegativeInteger(value: unknown, path: string, what: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw invalidPolicy(path, `${what}: an integer ≥ 0, got ${show(value)}`);
}

function positiveNumber(value: unknown, path: string, what: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  throw invalidPolicy(path, `${what}: a number of ms > 0, got ${show(value)}`);
}

function nonNegativeNumber(value: unknown, path: string, what: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  throw invalidPolicy(path, `${what}: a number of ms ≥ 0, got ${show(value)}`);
}

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
