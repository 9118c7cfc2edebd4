/**
 * The recent latencies of one method, for hedging at its p95: a ring of the last 256 successful
 * attempts; the percentile is recomputed every 32 samples (a sort of 256 numbers) rather than per
 * call. Until 32 samples have been seen it knows nothing, and failbackup does not hedge.
 */
const SIZE = 256;
const EVERY = 32;

export class LatencyWindow {
  private readonly samples = new Float64Array(SIZE);
  private count = 0;
  private cached: number | undefined = undefined;

  record(ms: number): void {
    this.samples[this.count % SIZE] = ms;
    this.count++;
    if (this.count % EVERY === 0) this.cached = undefined;
  }

  /** The 95th percentile in ms, or undefined while fewer than 32 samples were seen. */
  p95(): number | undefined {
    if (this.count < EVERY) return undefined;
    if (this.cached === undefined) {
      const n = Math.min(this.count, SIZE);
      const sorted = this.samples.slice(0, n).sort();
      this.cached = sorted[Math.min(n - 1, Math.floor(n * 0.95))]!;
    }
    return this.cached;
  }
}
