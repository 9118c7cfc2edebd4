/**
 * How long a request waits for this process's event loop, smoothed: a Node server's requests wait
 * in its sockets until the loop reads them, and then for the requests read with them.
 *
 * One unref'd interval timer, as toobusy-js does, measures how much later than asked it runs (the
 * rest of the loop's turn that was under way), and an immediate it sets measures the turn that
 * follows (the I/O callbacks of that iteration: the requests that piled up meanwhile). Their sum
 * is what a request arriving when the timer was due waits at most. The lateness alone is only the
 * remainder of a turn (measured: about a third of what requests wait under overload).
 *
 * Not `perf_hooks.monitorEventLoopDelay`: it sees only the lateness, its histogram still needs a
 * timer to be read, and it learns of a delay once the late turn has ended. Here the time of the
 * sampler's last run is kept, so a caller in the middle of a long turn (one socket read can hand
 * the server hundreds of requests) can tell from the clock alone that the loop is stuck now
 * (`observe`).
 */
export class EventLoopDelay {
  /** The smoothed delay, in ms. */
  smoothedMs = 0;
  /** The delay of the last run of the sampler, in ms. */
  lastMs = 0;
  private readonly intervalMs: number;
  private readonly smoothingMs: number;
  private readonly onChange: (elapsedMs: number) => void;
  /** performance.now() of the sampler's last run: the loop was free then. */
  private lastTurnAt: number;
  /** performance.now() of the last change of `smoothedMs`. */
  private updatedAt: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined = undefined;
  /** The lateness of the sampler's run whose following turn is being measured. */
  private lateness = 0;
  private readonly turnEnded = (): void => this.measureTurn();

  /** `onChange` runs after each change of the smoothed delay, with the ms since the one before. */
  constructor(intervalMs: number, smoothingMs: number, onChange: (elapsedMs: number) => void) {
    this.intervalMs = intervalMs;
    this.smoothingMs = smoothingMs;
    this.onChange = onChange;
    this.lastTurnAt = this.updatedAt = performance.now();
    this.timer = setInterval(() => this.sample(), intervalMs);
    // It measures the loop, it must not keep the process alive.
    this.timer.unref();
  }

  /**
   * Between the sampler's runs: if it is overdue by more than `thresholdMs` (the loop is stuck in
   * one long turn), the delay so far counts now instead of after the turn. Costs one clock read.
   */
  observe(thresholdMs: number): void {
    const now = performance.now();
    // In the turn after the sampler's run: its lateness and the turn so far; later: the next run's lateness so far.
    const delay = this.immediate !== undefined ? this.lateness + (now - this.lastTurnAt) : now - this.lastTurnAt - this.intervalMs;
    if (delay > thresholdMs && delay > this.smoothedMs) this.update(delay, now);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = this.immediate = undefined;
  }

  private sample(): void {
    const now = performance.now();
    this.lateness = Math.max(0, now - this.lastTurnAt - this.intervalMs);
    this.lastTurnAt = now;
    // Runs after this iteration's I/O callbacks (the check phase follows the poll phase).
    this.immediate = setImmediate(this.turnEnded);
  }

  private measureTurn(): void {
    this.immediate = undefined;
    const now = performance.now();
    const delay = this.lateness + (now - this.lastTurnAt);
    this.lastMs = delay;
    this.update(delay, now);
  }

  /**
   * An exponential moving average over time, not over samples: a sample that covers a long stall
   * weighs by the time it covers, so a 200 ms stall moves the average at once, a 1 ms blip barely.
   */
  private update(delay: number, now: number): void {
    const elapsed = now - this.updatedAt;
    this.updatedAt = now;
    const weight = 1 - Math.exp(-elapsed / this.smoothingMs);
    this.smoothedMs += weight * (delay - this.smoothedMs);
    this.onChange(elapsed);
  }
}
