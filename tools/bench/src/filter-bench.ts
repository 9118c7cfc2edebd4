/**
 * The per-call cost of the filter chain with 0, 1 and 5 no-op filters, measured two ways:
 * `composeFilters` alone (sequential awaits, ns per call) and whole in-process calls through
 * Client and Server over `inproc()` (closed loop, calls/s), with the filters on both sides.
 * Configurations are interleaved over several rounds after a warm-up round, and the best round
 * of each is kept.
 */
import { performance } from 'node:perf_hooks';
import { Client, composeFilters, inproc, Server, staticRegistry, type Call, type Filter } from '@svc/core';
import { runClosedLoop } from './closed-loop.js';
import { Echo } from './rows/svc-echo.js';

export const FILTER_COUNTS = [0, 1, 5] as const;

export interface FilterBenchOptions {
  rounds: number;
  /** Calls per round of the composeFilters measurement. */
  composeCalls: number;
  /** Measured ms per round of the in-process measurement. */
  inprocMs: number;
  concurrency: number;
}

export interface FilterBenchRow {
  filters: number;
  /** composeFilters alone: ns per call. */
  composeNs: number;
  /** Whole in-process calls with `filters` filters on the client and as many on the server. */
  inprocCallsPerSecond: number;
  /** Throughput lost against 0 filters, in percent. */
  inprocCostPercent: number;
}

const noop: Filter = (_call, next) => next();
const filters = (n: number): Filter[] => Array.from({ length: n }, () => noop);

async function composeNsPerCall(n: number, calls: number): Promise<number> {
  const chain = composeFilters(filters(n), async (call: Call) => call.request);
  const call: Call = { side: 'server', kind: 'call', service: 'Echo', method: 'echo', request: 1, metadata: {}, deadline: 0, signal: new AbortController().signal };
  for (let i = 0; i < 1000; i++) await chain(call);
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await chain(call);
  return ((performance.now() - t0) * 1e6) / calls;
}

async function inprocCallsPerSecond(n: number, options: FilterBenchOptions): Promise<number> {
  const transport = inproc();
  const server = new Server({ transport, filters: filters(n) }).register(new Echo());
  const address = await server.listen(`inproc://filter-bench-${n}`);
  const client = new Client({ transport, filters: filters(n), registry: staticRegistry({ Echo: [address] }) });
  try {
    const result = await runClosedLoop((m) => client.invoke('Echo', 'echo', m), {
      concurrency: options.concurrency,
      warmupMs: Math.min(300, options.inprocMs / 3),
      durationMs: options.inprocMs,
      maxCalls: 50_000_000,
    });
    if (result.errors > 0 || result.mismatches > 0) throw new Error(`in-process calls failed: ${result.firstError}`);
    return result.callsPerSecond;
  } finally {
    await client.close();
    await server.close({ drainTimeout: 1000 });
  }
}

export async function runFilterBench(options: FilterBenchOptions): Promise<FilterBenchRow[]> {
  const compose = new Map<number, number>();
  const calls = new Map<number, number>();
  // Round 0 warms the JIT up for every configuration and is not kept.
  for (let round = 0; round <= options.rounds; round++) {
    for (const n of FILTER_COUNTS) {
      const ns = await composeNsPerCall(n, options.composeCalls);
      if (round > 0) compose.set(n, Math.min(compose.get(n) ?? Infinity, ns));
    }
    for (const n of FILTER_COUNTS) {
      const cps = await inprocCallsPerSecond(n, options);
      if (round > 0) calls.set(n, Math.max(calls.get(n) ?? 0, cps));
    }
  }
  const baseline = calls.get(0)!;
  return FILTER_COUNTS.map((n) => ({
    filters: n,
    composeNs: Math.round(compose.get(n)! * 10) / 10,
    inprocCallsPerSecond: calls.get(n)!,
    inprocCostPercent: Math.round((1 - calls.get(n)! / baseline) * 1000) / 10,
  }));
}
