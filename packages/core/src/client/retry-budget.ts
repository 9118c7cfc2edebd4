/**
 * gRPC's retry throttling (A6): a bucket per service of `maxTokens` tokens, full at the start.
 * Every failed attempt takes one, every success gives back `tokenRatio`; while the bucket holds
 * half or less, no call of the service retries or hedges. So when a service fails everywhere,
 * the clients stop multiplying its load after a few failures, and start again as it recovers.
 *
 * One failure shared by many calls takes one token, not one per call: a transport fails every
 * call of a lost connection with the same error, and a node that dies under load (dozens of
 * calls in flight on it) says nothing about the rest of the service. Counting it per call would
 * spend the whole budget on one crash and turn a clean failover into failed calls.
 */
export interface RetryBudgetOptions {
  /** Default 10. */
  maxTokens?: number;
  /** Default 0.1: ten successes pay for one retry. */
  tokenRatio?: number;
}

export class RetryBudget {
  private readonly maxTokens: number;
  private readonly tokenRatio: number;
  private tokens: number;
  /** Errors already counted (the same instance reaching several calls). */
  private readonly counted = new WeakSet<object>();

  constructor(options: RetryBudgetOptions = {}) {
    this.maxTokens = positive(options.maxTokens, 10);
    this.tokenRatio = positive(options.tokenRatio, 0.1);
    this.tokens = this.maxTokens;
  }

  /** True while retries and hedges may be made. */
  get allows(): boolean {
    return this.tokens > this.maxTokens / 2;
  }

  get level(): number {
    return this.tokens;
  }

  failed(error: object): void {
    if (this.counted.has(error)) return;
    this.counted.add(error);
    if (this.tokens > 0) this.tokens = Math.max(0, this.tokens - 1);
  }

  succeeded(): void {
    if (this.tokens < this.maxTokens) this.tokens = Math.min(this.maxTokens, this.tokens + this.tokenRatio);
  }
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}
