import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ClusterLimitOptions } from './rate-limit-options.js';
import { isRedisClient } from './rate-limit-options.js';

/**
 * The GCRA step of rate-limit-budget.ts, done atomically in Redis so every process shares one
 * budget: read the theoretical arrival time, move it on by the interval if the call fits (or, when
 * the caller may wait, books a slot up to maxWait ahead), and say how long until the slot. Redis's
 * own clock (TIME) is used, so the processes' clocks do not matter. The key expires once the
 * budget is full again, so idle callers leave nothing behind.
 *
 * KEYS[1] budget; ARGV: interval ms, tolerance ms, max wait ms. Returns { 1 = taken | 0 = refused, wait ms }.
 */
const TAKE_SCRIPT = `
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local maxWait = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local nextTat = tat + interval
local wait = nextTat - tolerance - now
if wait > maxWait + 0.000001 then
  return {0, string.format('%.3f', wait)}
end
redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.ceil(nextTat - now) + 1000)
if wait < 0 then wait = 0 end
return {1, string.format('%.3f', wait)}
`;
const TAKE_SHA = createHash('sha1').update(TAKE_SCRIPT).digest('hex');

const DEFAULT_PREFIX = 'svc:rate:';
const DEFAULT_TIMEOUT_MS = 100;
const DEFAULT_RETRY_AFTER_MS = 1000;

/** What Redis said: the slot is taken (after waitMs, 0 for now), or refused (the next frees in waitMs). */
export interface ClusterTake {
  readonly taken: boolean;
  readonly waitMs: number;
}

/** Redis could not be asked in time; `problem` says why, for the fail-closed message. */
export class ClusterStoreDown extends Error {
  override readonly name = 'ClusterStoreDown';
}

/**
 * The cluster-wide budgets: one Redis script call per call, every wait bounded by `timeoutMs`
 * and by the call's signal (its deadline, its cancel), so no call hangs on a dead Redis. While
 * the client is not connected, or for `retryAfterMs` after a timeout, calls do not wait at all.
 * An address makes a client that this store owns (no offline queue, so commands fail at once
 * while disconnected; it reconnects by itself); a given client is used and never closed.
 */
export class ClusterStore {
  readonly prefix: string;
  readonly failOpen: boolean;
  /** "127.0.0.1:6380", for messages. */
  readonly address: string;
  private readonly client: Redis;
  private readonly owned: boolean;
  private readonly timeoutMs: number;
  private readonly retryAfterMs: number;
  private suspendedUntil = 0;
  private lastError = '';
  private closed = false;
  /**
   * Until the client is first ready, a call waits for it (within the timeout) rather than going
   * the failOpen way: a server that just started would otherwise let each process apply the
   * whole limit for its first moments. Undefined once it was ready.
   */
  private firstReady: Promise<void> | undefined;

  constructor(options: ClusterLimitOptions) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.failOpen = options.failOpen ?? true;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retryAfterMs = options.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
    const redis = options.redis;
    if (isRedisClient(redis)) {
      this.client = redis;
      this.owned = false;
      this.address = `${redis.options.host ?? '?'}:${redis.options.port ?? '?'}`;
    } else {
      this.client = new Redis({
        host: redis.host,
        port: redis.port,
        ...(redis.username === undefined ? {} : { username: redis.username }),
        ...(redis.password === undefined ? {} : { password: redis.password }),
        ...(redis.db === undefined ? {} : { db: redis.db }),
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: this.timeoutMs,
        connectTimeout: Math.max(1000, this.timeoutMs),
        retryStrategy: (times) => Math.min(50 * times, 500),
      });
      this.owned = true;
      this.address = `${redis.host}:${redis.port}`;
    }
    if (this.client.status !== 'ready') {
      const ready = new Promise<void>((resolve) => this.client.once('ready', resolve));
      this.firstReady = ready.then(() => {
        this.firstReady = undefined;
      });
    }
    if (this.owned) {
      // Reconnecting is ioredis's job; the error only explains the next fail-closed refusal.
      this.client.on('error', (error: Error) => {
        this.lastError = error.message;
      });
    }
  }

  /**
   * Takes a slot of `key` now, or books one up to `maxWaitMs` ahead. Throws ClusterStoreDown when
   * Redis is not connected or does not answer within the timeout, and the call's own error when
   * its signal fires first.
   */
  async take(key: string, intervalMs: number, toleranceMs: number, maxWaitMs: number, signal: AbortSignal): Promise<ClusterTake> {
    if (this.closed) throw new ClusterStoreDown('is closed (the limiter was closed)');
    if (this.suspendedUntil !== 0) {
      if (Date.now() < this.suspendedUntil) throw new ClusterStoreDown(`did not answer within ${this.timeoutMs} ms a moment ago; it is tried again shortly`);
      this.suspendedUntil = 0;
    }
    // After the suspension check: a Redis down since start is waited for once per retryAfterMs, not by every call.
    if (this.firstReady !== undefined && this.client.status !== 'ready') await this.bounded(this.firstReady, signal);
    if (this.client.status !== 'ready') throw new ClusterStoreDown(`is not connected (${this.client.status}${this.lastError === '' ? '' : `: ${this.lastError}`})`);
    const args = [String(intervalMs), String(toleranceMs), String(maxWaitMs)];
    const reply = await this.bounded(this.run(key, args), signal);
    const [taken, wait] = reply as [number, string];
    return { taken: taken === 1, waitMs: Number(wait) };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.owned) this.client.disconnect(false);
  }

  private async run(key: string, args: string[]): Promise<unknown> {
    try {
      return await this.client.evalsha(TAKE_SHA, 1, key, ...args);
    } catch (error) {
      // A restarted Redis has forgotten the script: send it once in full, which loads it again.
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return this.client.eval(TAKE_SCRIPT, 1, key, ...args);
      throw error;
    }
  }

  /** The reply, unless the timeout or the call's signal comes first. */
  private bounded(reply: Promise<unknown>, signal: AbortSignal): Promise<unknown> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', aborted);
      };
      const aborted = (): void => {
        done();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        done();
        this.suspendedUntil = Date.now() + this.retryAfterMs;
        reject(new ClusterStoreDown(`did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      signal.addEventListener('abort', aborted, { once: true });
      reply.then(
        (value) => {
          done();
          resolve(value);
        },
        (error: unknown) => {
          done();
          const message = error instanceof Error ? error.message : String(error);
          if (/timed out/i.test(message)) this.suspendedUntil = Date.now() + this.retryAfterMs;
          reject(new ClusterStoreDown(`failed: ${message}`));
        },
      );
    });
  }
}
