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
 * load just then), so a percentile alone let a saturated closed loop at C = 100 over TCP hedge
 * 23 % of its calls. So hedges spend from a bucket (like the retry budget): every call adds
 * `maxExtraLoad` of a token, up to 100, and a hedge takes one. Over time hedges stay under that
 * share of the calls, and a full bucket still lets a burst through, such as the calls a node
 * took with it when it died, which is when a hedge matters most (a share over the last second
 * alone held those back).
 */
const SIZE = 256;
/** Recompute the percentile every this many samples: a sort of 256 numbers costs ~10 µs. */
const EVERY = 128;
/** Samples before the percentile is trusted. */
const WARM = 32;
/** Hedges a full bucket allows at once. */
const BURST = 100;

export class LatencyWindow {
  private readonly samples = new Float64Array(SIZE);
  private count = 0;
  private cached: number | undefined = undefined;
  private tokens = BURST;

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

  /** A call of the method started: the hedge bucket gains `maxExtraLoad` of a token. */
  called(maxExtraLoad: number): void {
    if (this.tokens < BURST) this.tokens = Math.min(BURST, this.tokens + maxExtraLoad);
  }

  /** May a hedge be sent now? Takes a token when so. */
  mayHedge(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
