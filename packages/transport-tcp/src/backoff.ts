import type { ReconnectOptions } from './tcp-options.js';

/** Exponential backoff with jitter: 100 ms, 160 ms, 256 ms, ... up to maxDelay, each ±20 %. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly options: Required<ReconnectOptions>) {}

  next(): number {
    const { initialDelay, maxDelay, multiplier, jitter } = this.options;
    const base = Math.min(maxDelay, initialDelay * multiplier ** this.attempt++);
    const spread = base * jitter;
    return Math.max(0, Math.round(base - spread + Math.random() * 2 * spread));
  }

  reset(): void {
    this.attempt = 0;
  }
}
