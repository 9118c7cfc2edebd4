import { performance } from 'node:perf_hooks';
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import { messageFor, sameMessage } from './message.js';

export interface LoadOptions {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** A hard cap on calls started, whatever the clock says. */
  maxCalls: number;
}

export interface LoadResult {
  /** Calls that completed inside the measured window. */
  calls: number;
  /** Calls that completed correctly over the whole run, warm-up included. */
  totalCalls: number;
  /** CPU time (user + system) this process spent over the whole run, in microseconds. */
  cpuUs: number;
  callsPerSecond: number;
  windowMs: number;
  latency: LatencySummary;
  /** Replies that differed from their request (over the whole run, warm-up included). */
  mismatches: number;
  errors: number;
  firstError: string | undefined;
}

/**
 * A closed loop: `concurrency` callers, each sending its next call as soon as the previous one
 * answered. Calls completing during the warm-up are checked but not counted; the window then
 * runs for `durationMs` and callers stop issuing when it ends.
 */
export async function runClosedLoop(call: (message: ReturnType<typeof messageFor>) => Promise<unknown>, options: LoadOptions): Promise<LoadResult> {
  const histogram = new LatencyHistogram();
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const windowStart = start + options.warmupMs;
  const windowEnd = windowStart + options.durationMs;
  let seq = 0;
  let calls = 0;
  let totalCalls = 0;
  let mismatches = 0;
  let errors = 0;
  let firstError: string | undefined;

  const caller = async (): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= windowEnd || seq >= options.maxCalls) return;
      const message = messageFor(seq++);
      try {
        const reply = await call(message);
        const t1 = performance.now();
        if (!sameMessage(message, reply)) {
          mismatches++;
          firstError ??= `reply differs from request: ${JSON.stringify(reply).slice(0, 200)}`;
        } else {
          totalCalls++;
          if (t1 >= windowStart && t1 < windowEnd) {
            calls++;
            histogram.recordMs(t1 - t0);
          }
        }
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        // A failing peer should not turn the loop into a busy spin.
        if (errors > 10_000) return;
      }
    }
  };

  await Promise.all(Array.from({ length: options.concurrency }, caller));
  const windowMs = Math.min(performance.now(), windowEnd) - windowStart;
  const cpu = process.cpuUsage(cpuStart);
  return {
    calls,
    totalCalls,
    cpuUs: cpu.user + cpu.system,
    callsPerSecond: windowMs > 0 ? Math.round((calls * 1000) / windowMs) : 0,
    windowMs: Math.round(windowMs),
    latency: histogram.summary(),
    mismatches,
    errors,
    firstError,
  };
}
