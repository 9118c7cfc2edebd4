/**
 * One chaos scenario: steady load from this process against servers in other processes, a fault
 * in the middle, then load until traffic has been clean for a while, or a bound passes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@svc/core';
import { echoCall } from './echo-service.js';
import { Load, type LoadCounts } from './load.js';
import { lastFailure, okBetween, recoveryAfter } from './timeline.js';

/** 32 callers, 2,000 calls/s, 1 s deadline; each call takes the handler 10 ms, so about 20 are in flight at any time. */
export const LOAD = { concurrency: 32, ratePerSecond: 2_000, deadlineMs: 1_000, workMs: 10 } as const;
/** Traffic before the fault, so that the table shows it was flowing. */
const WARM_MS = 2_000;
/** Traffic counts as recovered after this long without a failure. */
const CLEAN_MS = 1_500;
/** Give up waiting for recovery this long after the repair (the scenario then fails). */
export const RECOVERY_BOUND_MS = 8_000;

export interface ScenarioResult {
  name: string;
  counts: LoadCounts;
  /** Every call started was settled (none hung). */
  allSettled: boolean;
  deadlineMs: number;
  /** On the load's clock, ms. */
  faultAt: number;
  repairedAt: number;
  endedAt: number;
  okBeforeFault: number;
  /** Calls started before the fault that failed: after a graceful shutdown there should be none. */
  failedStartedBeforeFault: number;
  /** From the repair to the last failed call; undefined when failures went on to the bound. */
  recoveryMs: number | undefined;
  /** Calls that succeeded after the last failure. */
  okAfterRecovery: number;
  /** Handles of this process left over once the scenario's client and processes are gone (see leftover-handles.ts). */
  leftoverHandles?: Record<string, number>;
}

/** What a fault says about its own timing: when it struck and when it was repaired. */
export interface Marks {
  fault(): void;
  repaired(): void;
}

export async function runScenario(name: string, client: Client, inflict: (marks: Marks) => Promise<void>): Promise<ScenarioResult> {
  // Connections up before the clock starts: dialing is not what is measured.
  await Promise.all(Array.from({ length: 8 }, (_, i) => echoCall(client, 10_000)(-1 - i)));

  const load = new Load(echoCall(client, LOAD.deadlineMs, LOAD.workMs), { ...LOAD, record: true });
  let faultAt = NaN;
  let repairedAt = NaN;
  load.start();
  await sleep(WARM_MS);
  await inflict({ fault: () => (faultAt = load.now()), repaired: () => (repairedAt = load.now()) });
  if (Number.isNaN(faultAt) || Number.isNaN(repairedAt)) throw new Error(`${name}: the fault did not mark its fault and repair times`);

  let recovered = false;
  while (load.now() - repairedAt < RECOVERY_BOUND_MS) {
    const now = load.now();
    const cleanSince = Math.max(repairedAt, lastFailure(load.outcomes)?.settledAt ?? 0);
    if (now - cleanSince >= CLEAN_MS && okBetween(load.outcomes, cleanSince) > 0) {
      recovered = true;
      break;
    }
    await sleep(100);
  }
  // Calls in flight get their deadline and a little more; any still open then is a hang.
  const allSettled = await load.stop(LOAD.deadlineMs + 2_000);
  const outcomes = load.outcomes;
  const last = lastFailure(outcomes);
  return {
    name,
    counts: load.counts,
    allSettled,
    deadlineMs: LOAD.deadlineMs,
    faultAt,
    repairedAt,
    endedAt: load.now(),
    okBeforeFault: okBetween(outcomes, 0, faultAt),
    failedStartedBeforeFault: outcomes.filter((o) => o.code !== 'OK' && o.startedAt < faultAt).length,
    recoveryMs: recovered ? recoveryAfter(outcomes, repairedAt) : undefined,
    okAfterRecovery: okBetween(outcomes, last?.settledAt ?? 0),
  };
}
