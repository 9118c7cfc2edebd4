/**
 * A load generator: `concurrency` callers sharing a budget of `ratePerSecond` calls, each
 * starting its next call when its previous one has settled. The rate cap keeps a fault that
 * makes calls fail at once from turning into a busy loop, and one shared ticker (not a timer per
 * caller) keeps the process's handle count flat for the soak.
 *
 * Every call is counted when it starts and when it settles, so a call that never settles shows
 * as started − settled. Failures are counted by code; anything that is not an RpcError is
 * counted as NOT_AN_RPC_ERROR and described.
 */
import { performance } from 'node:perf_hooks';
import { RpcError } from '@svc/core';

export interface LoadOptions {
  concurrency: number;
  ratePerSecond: number;
  /** Kept with each outcome; the call itself sets its timeout. */
  deadlineMs: number;
  /** Keep every outcome (for chaos timelines). Off for the soak, whose memory is being measured. */
  record?: boolean;
}

/** One settled call, times in ms since the load started. */
export interface CallOutcome {
  startedAt: number;
  settledAt: number;
  /** 'OK', an RpcError code, or NOT_AN_RPC_ERROR. */
  code: string;
}

export interface LoadCounts {
  started: number;
  settled: number;
  ok: number;
  /** Replies that were not the echo of their request. */
  mismatches: number;
  failedByCode: Record<string, number>;
  /** One message per failure code, to say what the failure looked like. */
  exampleByCode: Record<string, string>;
  /** Longest time from start to settle of any call, ms. */
  worstSettleMs: number;
}

export const NOT_AN_RPC_ERROR = 'NOT_AN_RPC_ERROR';

/** `call(seq)` resolves true for a right reply, false for a wrong one, and rejects on failure. */
export type LoadCall = (seq: number) => Promise<boolean>;

const TICK_MS = 10;

export class Load {
  readonly outcomes: CallOutcome[] = [];
  readonly counts: LoadCounts = { started: 0, settled: 0, ok: 0, mismatches: 0, failedByCode: {}, exampleByCode: {}, worstSettleMs: 0 };
  private readonly origin = performance.now();
  private running = false;
  private tokens = 0;
  private ticker: NodeJS.Timeout | undefined;
  private waiting: Array<() => void> = [];
  private workers: Promise<void>[] = [];
  private seq = 0;

  constructor(
    private readonly call: LoadCall,
    readonly options: LoadOptions,
  ) {}

  /** Milliseconds since the load was made: the clock of every outcome. */
  now(): number {
    return performance.now() - this.origin;
  }

  start(): void {
    this.running = true;
    const perMs = this.options.ratePerSecond / 1000;
    // At most two ticks' worth saved up: after a stall the load resumes at its rate, not in a burst.
    const cap = Math.max(2 * TICK_MS * perMs, 1);
    let lastTick = this.now();
    this.ticker = setInterval(() => {
      // Tokens for the time that really passed: an interval fires late, never early.
      const now = this.now();
      this.tokens = Math.min(cap, this.tokens + (now - lastTick) * perMs);
      lastTick = now;
      while (this.tokens >= 1 && this.waiting.length > 0) {
        this.tokens -= 1;
        this.waiting.shift()!();
      }
    }, TICK_MS);
    for (let i = 0; i < this.options.concurrency; i++) this.workers.push(this.worker());
  }

  /**
   * Stops starting calls and waits up to `graceMs` for those in flight. Resolves true when every
   * call has settled; false means some never did (a hang), and `counts` says how many.
   */
  async stop(graceMs: number): Promise<boolean> {
    this.running = false;
    clearInterval(this.ticker);
    for (const release of this.waiting.splice(0)) release();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
    const done = await Promise.race([Promise.all(this.workers).then(() => true as const), timedOut]);
    clearTimeout(timer);
    return done;
  }

  private async worker(): Promise<void> {
    while (this.running) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      if (!this.running) return;
      await this.one(this.seq++);
    }
  }

  private async one(seq: number): Promise<void> {
    const counts = this.counts;
    const startedAt = this.now();
    counts.started++;
    let code = 'OK';
    try {
      if (await this.call(seq)) counts.ok++;
      else counts.mismatches++;
    } catch (error) {
      code = error instanceof RpcError ? String(error.code) : NOT_AN_RPC_ERROR;
      counts.failedByCode[code] = (counts.failedByCode[code] ?? 0) + 1;
      counts.exampleByCode[code] ??= describe(error);
    }
    const settledAt = this.now();
    counts.settled++;
    counts.worstSettleMs = Math.max(counts.worstSettleMs, settledAt - startedAt);
    if (this.options.record) this.outcomes.push({ startedAt, settledAt, code });
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.constructor.name}: ${error.message}`.slice(0, 200);
  return `${typeof error}: ${String(error)}`.slice(0, 200);
}
