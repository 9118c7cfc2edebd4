import type { MethodOptions } from '@svc/core';
import { invalidPolicy } from './resilience-errors.js';
import { describe as describeValue } from './describe-value.js';

/** How many calls of one method may run at once, and how many more may wait for a slot. */
export interface BulkheadOptions {
  /** Calls of the method that may run at once (an integer, at least 1). */
  concurrency: number;
  /** Calls that may wait for a slot, first come first served (default 0: refused at once when all slots are taken). */
  queue?: number;
  /** Longest wait in the queue, in ms; a call still waiting then is refused (default: it waits as long as its deadline allows). */
  maxWaitMs?: number;
  /** What a refusal tells the client to stay away for (svc-retry-pushback-ms), in ms (default 100). */
  pushbackMs?: number;
}

/** The options as the bulkhead uses them, every default filled in. */
export interface BulkheadLimits {
  readonly concurrency: number;
  readonly queue: number;
  /** 0: no limit. */
  readonly maxWaitMs: number;
  readonly pushbackMs: number;
}

const DEFAULT_PUSHBACK_MS = 100;
const KEYS = new Set(['concurrency', 'queue', 'maxWaitMs', 'pushbackMs']);

/** Checks a method's bulkhead options (`path` names them in the error) and fills in the defaults. */
export function bulkheadLimits(path: string, options: unknown): BulkheadLimits {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalidPolicy(path, `expected { concurrency, queue?, maxWaitMs?, pushbackMs? } or false, got ${describeValue(options)}`);
  for (const key of Object.keys(options)) {
    if (!KEYS.has(key)) throw invalidPolicy(`${path}.${key}`, `unknown option; a bulkhead takes ${[...KEYS].join(', ')}`);
  }
  const { concurrency, queue = 0, maxWaitMs, pushbackMs = DEFAULT_PUSHBACK_MS } = options as BulkheadOptions;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw invalidPolicy(`${path}.concurrency`, `must be an integer of at least 1, got ${describeValue(concurrency)}`);
  if (!(Number.isInteger(queue) && queue >= 0)) throw invalidPolicy(`${path}.queue`, `must be an integer of at least 0, got ${describeValue(queue)}`);
  if (maxWaitMs !== undefined && !(typeof maxWaitMs === 'number' && Number.isFinite(maxWaitMs) && maxWaitMs > 0)) {
    throw invalidPolicy(`${path}.maxWaitMs`, `must be a number of ms above 0, got ${describeValue(maxWaitMs)}`);
  }
  if (!(typeof pushbackMs === 'number' && Number.isFinite(pushbackMs) && pushbackMs >= 0)) throw invalidPolicy(`${path}.pushbackMs`, `must be a number of ms of at least 0, got ${describeValue(pushbackMs)}`);
  return { concurrency, queue, maxWaitMs: maxWaitMs ?? 0, pushbackMs };
}

/** The bulkhead `@Method({ concurrency, queue })` asks for; none for a method without `concurrency`. */
export function bulkheadFromMethodOptions(_service: string, _method: string, options: Readonly<MethodOptions> | undefined): BulkheadOptions | undefined {
  if (options?.concurrency === undefined) return undefined;
  return { concurrency: options.concurrency, queue: options.queue ?? 0 };
}

