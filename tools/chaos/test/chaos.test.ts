/**
 * Chaos under steady load (32 callers, 2,000 calls/s of 10 ms each, 1 s deadline) against servers in separate
 * processes. For every scenario: every call settles, every failure is an RpcError with a clear
 * code, nothing settles much later than its deadline, and traffic is clean again soon after the
 * repair. The table of counts is printed at the end and written to results/.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chaosTable } from '../src/chaos-report.js';
import { killAll } from '../src/launcher.js';
import { handleCounts, leftoverHandles } from '../src/leftover-handles.js';
import { writeResults } from '../src/results-file.js';
import { RECOVERY_BOUND_MS, type ScenarioResult } from '../src/scenario.js';
import { natsRestart, natsServiceKill, tcpGracefulRestart, tcpKill, tcpLongPause, tcpPause } from '../src/scenarios.js';

/** Failures a fault may cause. UNKNOWN, a plain Error (NOT_AN_RPC_ERROR) or any other code is a defect. */
const CLEAR_CODES = ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'CANCELLED'];
/** How much later than its deadline a call may settle: the deadline sweep (50 ms) and timer lag on a busy 2-core machine. */
const SLACK_MS = 250;

const results: ScenarioResult[] = [];
const started = Date.now();

afterAll(() => {
  killAll();
  if (results.length === 0) return;
  const file = writeResults('chaos', { node: process.version, seconds: (Date.now() - started) / 1000, clearCodes: CLEAR_CODES, slackMs: SLACK_MS, results });
  console.log(`\n${chaosTable(results)}\n\n(${((Date.now() - started) / 1000).toFixed(1)} s; ${file})\n`);
});

/** Runs a scenario, notes what it left behind in this process, and keeps its result for the table. */
async function run(scenario: () => Promise<ScenarioResult>): Promise<ScenarioResult> {
  const before = handleCounts();
  const r = await scenario();
  r.leftoverHandles = await leftoverHandles(before);
  results.push(r);
  return r;
}

function expectClean(r: ScenarioResult): void {
  const c = r.counts;
  // Traffic was flowing before the fault.
  expect(r.okBeforeFault, 'calls succeeded before the fault').toBeGreaterThan(100);
  // No hang: every call started has settled.
  expect(r.allSettled, 'all calls settled').toBe(true);
  expect(c.settled, 'settled = started').toBe(c.started);
  // Every failure says clearly what happened.
  const unclear = Object.keys(c.failedByCode).filter((code) => !CLEAR_CODES.includes(code));
  expect(unclear.map((code) => `${code} x${c.failedByCode[code]}: ${c.exampleByCode[code]}`), 'failures without a clear code').toEqual([]);
  expect(c.mismatches, 'replies that were not the echo of their request').toBe(0);
  // On time: nothing settles much later than its deadline.
  expect(c.worstSettleMs, `worst settle time (deadline ${r.deadlineMs} ms + ${SLACK_MS} ms slack)`).toBeLessThanOrEqual(r.deadlineMs + SLACK_MS);
  // Recovery: clean traffic again within the bound, with calls succeeding after the last failure.
  expect(r.recoveryMs, `recovered within ${RECOVERY_BOUND_MS} ms of the repair`).toBeDefined();
  expect(r.okAfterRecovery, 'calls succeeded after the last failure').toBeGreaterThan(100);
  // Closing the client ends its sockets and timers.
  expect(r.leftoverHandles, 'handles left in this process after client.close()').toEqual({});
}

describe('chaos under steady load', () => {
  it('TCP: kill -9 one of three servers, then restart it', async () => {
    const r = await run(tcpKill);
    expectClean(r);
  });

  it('TCP: SIGSTOP one of three servers for 3 s, then SIGCONT', async () => {
    const r = await run(tcpPause);
    expectClean(r);
  });

  it('TCP: SIGSTOP one of three servers for longer than the heartbeat timeout', async () => {
    const r = await run(tcpLongPause);
    expectClean(r);
  });

  it('TCP: SIGTERM one of three servers (graceful), then restart it', async () => {
    const r = await run(tcpGracefulRestart);
    expectClean(r);
    // A graceful shutdown drains: calls already sent when the SIGTERM came are all answered.
    expect(r.failedStartedBeforeFault, 'calls in flight at the SIGTERM that failed').toBe(0);
  });

  it('NATS: kill -9 nats-server and start a new one on the same port', async () => {
    const r = await run(natsRestart);
    expectClean(r);
  });

  it('NATS: kill -9 one of two service processes', async () => {
    const r = await run(natsServiceKill);
    expectClean(r);
  });
});
