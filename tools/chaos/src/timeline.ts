/** Questions about a scenario's outcomes, in the load's clock (ms since it started). */
import type { CallOutcome } from './load.js';

/** The failed call that settled last; outcomes are in the order they settled. */
export function lastFailure(outcomes: readonly CallOutcome[]): CallOutcome | undefined {
  for (let i = outcomes.length - 1; i >= 0; i--) if (outcomes[i]!.code !== 'OK') return outcomes[i];
  return undefined;
}

/** Calls that succeeded and settled in [from, to). */
export function okBetween(outcomes: readonly CallOutcome[], from: number, to = Infinity): number {
  let n = 0;
  for (const o of outcomes) if (o.code === 'OK' && o.settledAt >= from && o.settledAt < to) n++;
  return n;
}

/**
 * How long after the repair the last failure came: from then on every call succeeded. Zero when
 * nothing failed after the repair.
 */
export function recoveryAfter(outcomes: readonly CallOutcome[], repairedAt: number): number {
  const last = lastFailure(outcomes);
  return last === undefined ? 0 : Math.max(0, last.settledAt - repairedAt);
}
