/**
 * A call's deadline is absolute in a process (`RequestMessage.deadline`, Date.now() scale, 0 for
 * none) and travels as the time left (the frame header's `timeoutMs`, NATS's `Svc-Timeout`), so
 * that the clocks of client and server need not agree. These two convert between them, on the
 * sending and on the receiving side of every transport.
 *
 * `now` may be given (one clock read for a batch of calls); without it the clock is read only
 * when there is a deadline, so a call without one costs no clock read.
 */

/**
 * The milliseconds left until `deadline`, as a request carries them: 0 for no deadline, and at
 * least 1 when one is set (a call overdue by the time it is sent still has a deadline; 0 would
 * tell the peer it has none).
 */
export function remainingMs(deadline: number, now?: number): number {
  return deadline === 0 ? 0 : Math.max(1, deadline - (now ?? Date.now()));
}

/** The absolute deadline of a call received at `now` with `timeoutMs` left; 0 (none) when it has no time set. */
export function deadlineFrom(timeoutMs: number, now?: number): number {
  return timeoutMs > 0 ? (now ?? Date.now()) + timeoutMs : 0;
}
