import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Latency summary in microseconds (values are recorded in nanoseconds). */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * An HDR histogram (node's perf_hooks one, three significant digits) of call latencies in
 * nanoseconds: constant memory and O(1) recording, whatever the number of calls.
 */
export class LatencyHistogram {
  private readonly h: RecordableHistogram = createHistogram({ lowest: 1, highest: 60e9, figures: 3 });

  /** Records one latency given in milliseconds (performance.now() differences). */
  recordMs(ms: number): void {
    const ns = Math.round(ms * 1e6);
    this.h.record(ns < 1 ? 1 : ns > 60e9 ? 60e9 : ns);
  }

  get count(): number {
    return this.h.count;
  }

  summary(): LatencySummary {
    const us = (ns: number): number => Math.round(ns / 10) / 100;
    if (this.h.count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    return {
      count: this.h.count,
      mean: us(this.h.mean),
      p50: us(this.h.percentile(50)),
      p90: us(this.h.percentile(90)),
      p99: us(this.h.percentile(99)),
      p999: us(this.h.percentile(99.9)),
      max: us(this.h.max),
    };
  }
}
