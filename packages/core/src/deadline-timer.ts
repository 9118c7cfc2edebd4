/**
 * Deadlines for calls, cheaper than one setTimeout each. Node's setTimeout + clearTimeout cost
 * about 0.4 µs and a Timeout object per call, on both sides of every call (a client's default
 * 30 s timeout travels with each request). Most calls finish long before their deadline, so:
 *
 * - a deadline under one second gets its own precise timer;
 * - a longer one joins a list that one shared timer sweeps every 50 ms while it is not empty.
 *   Such deadlines fire up to 50 ms late, a small fraction of a second or more.
 *
 * The list is intrusive (the links live on the calls themselves): joining and leaving it writes a
 * few fields, with no allocation and no hashing.
 */

export interface DeadlineTarget {
  /** Absolute time (Date.now() scale) at which deadlineReached() is due. */
  readonly deadline: number;
  deadlineReached(): void;
  /** Links of the swept list; owned by this module, start them as undefined. */
  sweptPrev: DeadlineTarget | undefined;
  sweptNext: DeadlineTarget | undefined;
}

/** What disarm() needs back: the precise timer, or undefined for a swept deadline. */
export type DeadlineHandle = NodeJS.Timeout | undefined;

const PRECISE_BELOW_MS = 1_000;
const SWEEP_EVERY_MS = 50;

let head: DeadlineTarget | undefined;
let sweeper: NodeJS.Timeout | undefined;

function fire(target: DeadlineTarget): void {
  target.deadlineReached();
}

function unlink(target: DeadlineTarget): void {
  const { sweptPrev: prev, sweptNext: next } = target;
  if (prev !== undefined) prev.sweptNext = next;
  else if (head === target) head = next;
  if (next !== undefined) next.sweptPrev = prev;
  target.sweptPrev = undefined;
  target.sweptNext = undefined;
}

function sweep(): void {
  const now = Date.now();
  for (let target = head; target !== undefined; ) {
    const next = target.sweptNext;
    if (target.deadline <= now) {
      unlink(target);
      target.deadlineReached();
    }
    target = next;
  }
  if (head === undefined && sweeper !== undefined) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

export function armDeadline(target: DeadlineTarget): DeadlineHandle {
  const ms = target.deadline - Date.now();
  if (ms < PRECISE_BELOW_MS) return setTimeout(fire, Math.max(0, ms), target);
  target.sweptNext = head;
  if (head !== undefined) head.sweptPrev = target;
  head = target;
  if (sweeper === undefined) {
    sweeper = setInterval(sweep, SWEEP_EVERY_MS);
    sweeper.unref();
  }
  return undefined;
}

export function disarmDeadline(target: DeadlineTarget, handle: DeadlineHandle): void {
  if (handle !== undefined) clearTimeout(handle);
  else unlink(target);
}
