import type { Filter } from '../filter/filter.js';
import type { AttemptCall } from './attempt.js';

const OBSERVING = Symbol('@svc/core observing attempt filter');

type Marked = Filter<AttemptCall> & { [OBSERVING]?: true };

/**
 * Marks an attempt filter that only watches attempts (an attempt span, per-attempt logs) and
 * changes nothing about them. Such a filter runs only for calls that want their attempts observed
 * (`OutgoingCall.observeAttempts`, true unless a call filter turned it off): a tracer turns it off
 * for the calls it does not record, and those calls skip the observers and, when no other attempt
 * filter or fail mode needs one, the fail mode's runner too. Filters that act (a node's breaker)
 * stay unmarked and run for every attempt.
 */
export function observingAttemptFilter(filter: Filter<AttemptCall>): Filter<AttemptCall> {
  const marked: Marked = (attempt, next) => filter(attempt, next);
  marked[OBSERVING] = true;
  return marked;
}

export function isObservingAttemptFilter(filter: Filter<AttemptCall>): boolean {
  return (filter as Marked)[OBSERVING] === true;
}
