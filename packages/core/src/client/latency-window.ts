/**
 * What failbackup keeps per method: the recent latencies of its calls, for hedging at their p95,
 * and how many calls and hedges were made lately, to hold hedges to a share of the calls.
 *
 * Latencies: a ring of the last 256 calls (ms, fractional), from their first attempt, so that a
 * hedge that wins (fast because it started late) does not pull the percentile down; the p95 is
 * recomputed every 128 samples (a sort of 256 numbers) rather than per call. Until 32 samples have
 * been seen it knows nothing, and failbackup does not hedge.
 *
 * Extra load: hedges are bursty (a slow moment delays many calls at once, and their hedges add
 * load just then), so a percentile alone let a closed loop at C = 100 over TCP hedge 23 % of its
 * calls. A hedge is sent only while hedges stay under `maxExtraLoad` of the calls, plus a reserve
 * of 10 a second so that a quiet method may still hedge (Finagle's backup requests and retry
 * budgets work the same way); both counts halve every second, so the share is recent.
 */
const SIZE = 256;
/** Recompute the percentile every this many samples: a sort of 256 numbers costs ~10 µs. */
const EVERY = 128;
/** Samples before the percentile is trusted. */
const WARM = 32;
const HALVE_EVERY_MS = 1_000;
const RESERVE = 10;

export class LatencyWindow {
  private readonly samples = new Float64Array(SIZE);
  private count = 0;
  private cached: number | undefined = undefined;
  private calls = 0;
  private hedges = 0;
  private halvedAt = 0;

  record(ms: number): void {
    this.samples[this.count % SIZE] = ms;
    this.count++;
    if (this.count % EVERY === 0 || this.count === WARM) this.cached = undefined;
  }

  /** The 95th percentile in ms, or undefined while fewer than 32 samples were seen. */
  p95(): number | undefined {
    if (this.count < WARM) return undefined;
    if (this.cached === undefined) {
      const n = Math.min(this.count, SIZE);
      const sorted = this.samples.slice(0, n).sort();
      this.cached = sorted[Math.min(n - 1, Math.floor(n * 0.95))]!;
    }
    return this.cached;
  }

  /** A call of the method started, at `now` (performance.now()). */
  called(now: number): void {
    this.calls++;
    if (now - this.halvedAt >= HALVE_EVERY_MS) {
      this.halvedAt = now;
      this.calls /= 2;
      this.hedges /= 2;
    }
  }

  /** May a hedge be sent now, with hedges held to `maxExtraLoad` of the calls (plus the reserve)? Counts it when so. */
  mayHedge(maxExtraLoad: number): boolean {
    if (this.hedges + 1 > this.calls * maxExtraLoad + RESERVE) return false;
    this.hedges++;
    return true;
  }
}
