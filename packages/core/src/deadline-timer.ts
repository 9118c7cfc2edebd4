/**
 * Deadlines for calls, cheaper than one setTimeout each. Node's setTimeout + clearTimeout cost
 * about 0.4 µs and a Timeout object per call, on both sides of every call (a client's default
 * 30 s timeout travels with each request). Most calls finish long before their deadline, so:
 *
 * - a deadline under one second gets its own precise timer;
 * - a longer one joins a set that one shared timer sweeps every 50 ms while it is not empty.
 *   Such deadlines fire up to 50 ms late, a small fraction of a second or more.
 */

export interface DeadlineTarget {
  /** Absolute time (Date.now() scale) at which deadlineReached() is due. */
  readonly deadline: number;
  deadlineReached(): void;
}

/** What disarm() needs back: the precise timer, or undefined for a swept deadline. */
export type DeadlineHandle = NodeJS.Timeout | undefined;

const PRECISE_BELOW_MS = 1_000;
const SWEEP_EVERY_MS = 50;

const swept = new Set<DeadlineTarget>();
let sweeper: NodeJS.Timeout | undefined;

function fire(target: DeadlineTarget): void {
  target.deadlineReached();
}

function sweep(): void {
  const now = Date.now();
  for (const target of swept) {
    if (target.deadline > now) continue;
    swept.delete(target);
    target.deadlineReached();
  }
  if (swept.size === 0 && sweeper !== undefined) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

export function armDeadline(target: DeadlineTarget): DeadlineHandle {
  const ms = target.deadline - Date.now();
  if (ms < PRECISE_BELOW_MS) return setTimeout(fire, Math.max(0, ms), target);
  swept.add(target);
  if (sweeper === undefined) {
    sweeper = setInterval(sweep, SWEEP_EVERY_MS);
    sweeper.unref();
  }
  return undefined;
}

export function disarmDeadline(target: DeadlineTarget, handle: DeadlineHandle): void {
  if (handle !== undefined) clearTimeout(handle);
  else swept.delete(target);
}
