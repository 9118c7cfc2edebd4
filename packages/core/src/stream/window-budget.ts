import { invalidStreamWindow } from '../errors/framework-errors.js';
import { checkedWindow, DEFAULT_STREAM_WINDOW } from './outbound-credit.js';

/**
 * The most one stream's receive window grows to unless told otherwise. A window holds a stream
 * of 64 KiB messages back when it is smaller than what the loopback moves in one round trip of
 * credit: 256 KiB kept 51-62 % of a raw socket's MiB/s, 1 MiB 62-72 %, 4 MiB 88-96 %
 * (docs/performance.md, streams).
 */
export const DEFAULT_MAX_STREAM_WINDOW = 4 * 1024 * 1024;

/** What a Client's or a Server's streams may grow their windows by, together, unless told otherwise. */
export const DEFAULT_STREAM_WINDOW_BUDGET = 64 * 1024 * 1024;

/**
 * How far the receive windows of one side's streams (a Client's, or a Server's) may grow past the
 * window they start with. A window grows only while its consumer keeps up and the window is what
 * holds the sender back (inbound-messages.ts says when); growth is drawn from this budget and
 * given back when the stream ends. So what a side may buffer for its streams stays within their
 * starting windows plus the budget, whatever its peers send.
 */
export class WindowBudget {
  /** The most one stream's window grows to. */
  readonly maxWindow: number;
  private left: number;

  constructor(maxWindow: number, budget: number) {
    this.maxWindow = maxWindow;
    this.left = budget;
  }

  /** Bytes still to grow by. */
  get available(): number {
    return this.left;
  }

  /** Up to `wanted` bytes of growth, as many as are left. */
  take(wanted: number): number {
    const granted = wanted < this.left ? wanted : this.left;
    this.left -= granted;
    return granted;
  }

  /** Growth a stream that ended gives back. */
  give(bytes: number): void {
    this.left += bytes;
  }
}

/** A `maxStreamWindow` option (a side's, or one stream's), checked as `streamWindow` is. */
export function checkMaxStreamWindow(value: number): number {
  return checkedWindow('maxStreamWindow', value);
}

/** The budget of a side's options: `maxStreamWindow` (at least its `streamWindow`) and `streamWindowBudget`, checked. */
export function resolveWindowBudget(options: { streamWindow?: number; maxStreamWindow?: number; streamWindowBudget?: number }): WindowBudget {
  const { maxStreamWindow, streamWindowBudget } = options;
  if (maxStreamWindow !== undefined) checkMaxStreamWindow(maxStreamWindow);
  if (streamWindowBudget !== undefined && (!Number.isInteger(streamWindowBudget) || streamWindowBudget < 0 || streamWindowBudget > Number.MAX_SAFE_INTEGER)) {
    throw invalidStreamWindow('streamWindowBudget', streamWindowBudget, 0);
  }
  const start = options.streamWindow ?? DEFAULT_STREAM_WINDOW;
  const max = maxStreamWindow ?? Math.max(DEFAULT_MAX_STREAM_WINDOW, start);
  return new WindowBudget(max, streamWindowBudget ?? DEFAULT_STREAM_WINDOW_BUDGET);
}
