/**
 * Growth of a sampled figure over a soak, robust to noise: the median of the first window of
 * samples after the warm-up against the median of the last window, never single samples (a GC
 * or a burst of calls in flight moves one sample, not a median).
 */

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Growth {
  /** Median of the first window. */
  first: number;
  /** Median of the last window. */
  last: number;
  /** (last − first) / first: 0.05 is 5 % growth; negative is shrinkage. */
  growth: number;
}

/** `values` are the samples after the warm-up, in time order; each window is `window` samples. */
export function growthOf(values: readonly number[], window: number): Growth {
  const size = Math.max(1, Math.min(window, Math.floor(values.length / 2)));
  const first = median(values.slice(0, size));
  const last = median(values.slice(-size));
  const growth = first === 0 ? (last === 0 ? 0 : Infinity) : (last - first) / first;
  return { first, last, growth };
}
