/**
 * The fail modes against real server processes (issue 13), over TCP and NATS: failover hides a
 * kill -9 from idempotent calls and never runs a non-idempotent one twice; failbackup cuts a slow
 * server's tail; the retry budget keeps attempts near one per call when servers fail; a graceful
 * shutdown (GOAWAY) is invisible to failfast and failover callers. The figures are printed at
 * the end and written to results/fail-modes-<time>.json.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { failedCount } from '../src/fail-mode-calls.js';
import { budgetTable, goawayTable, hedgeTable, killTable } from '../src/fail-modes-report.js';
import { BUDGET_LOAD, GOAWAY_LOAD, goaway, HEDGE_LOAD, hedging, KILL_LOAD, killUnderLoad, retryBudget, type BudgetRow, type GoawayResult, type HedgeRow, type KillResult } from '../src/fail-modes.js';
import { killAll } from '../src/launcher.js';
import { writeResults } from '../src/results-file.js';

const kills: KillResult[] = [];
let hedges: HedgeRow[] = [];
let budget: BudgetRow[] = [];
let goaways: GoawayResult | undefined;
const started = Date.now();

afterAll(() => {
  killAll();
  const tables = [kills.length > 0 ? killTable(kills) : '', hedges.length > 0 ? hedgeTable(hedges) : '', budget.length > 0 ? budgetTable(budget) : '', goaways ? goawayTable(goaways) : ''].filter(Boolean);
  if (tables.length === 0) return;
  const seconds = (Date.now() - started) / 1000;
  const file = writeResults('fail-modes', { node: process.version, seconds, loads: { kill: KILL_LOAD, hedge: HEDGE_LOAD, budget: BUDGET_LOAD, goaway: GOAWAY_LOAD }, kills, hedges, budget, goaway: goaways });
  console.log(`\n${tables.join('\n\n')}\n\n(${seconds.toFixed(1)} s; ${file})\n`);
});

/** What the caller saw, for a failed expectation: the first failures with code, progress and message. */
function seen(r: { failures: readonly { method: string; code: string; progress: string | undefined; message: string }[] }): string {
  return r.failures
    .slice(0, 5)
    .map((f) => `${f.method} ${f.code}/${f.progress}: ${f.message}`)
    .join('\n');
}

/** Over NATS a call goes to the queue group, not to an instance: a call the victim had taken is lost with it, and only its deadline ends it. */
const LOST_WITH_VICTIM_MS = 250;

/** What holds whatever the fail mode: every call settles, replies are right, no put runs twice, and failures say what happened. */
function expectNoPutTwice(r: KillResult, putCodes: readonly string[]): void {
  expect(r.allSettled, 'every call settled').toBe(true);
  expect(r.get.calls, 'gets made').toBeGreaterThan(1_000);
  expect(r.victimAtKill.inFlight, 'calls the victim held at the kill').toBeGreaterThan(0);
  expect(r.get.mismatches + r.put.mismatches, 'replies that were not their request').toBe(0);
  // A non-idempotent handler never runs twice, and every put the caller saw succeed ran exactly once.
  expect(r.puts.ranTwice, 'put ids that ran twice across the servers').toEqual([]);
  expect(r.puts.okNotOnce, 'successful puts not journaled exactly once').toEqual([]);
  // Puts lost with the victim may fail (a handler may have run: not retried), and say so.
  expect(Object.keys(r.put.failedByCode).filter((code) => !putCodes.includes(code)), `put failures other than ${putCodes.join(', ')}\n${seen(r)}`).toEqual([]);
}

describe('fail modes against real processes', () => {
  it('TCP: failover through a kill -9 of one of three servers: no idempotent call fails, no put runs twice', async () => {
    const r = await killUnderLoad('tcp', 3, { label: 'failover, kill -9 1 of 3', failMode: 'failover' });
    kills.push(r);
    expectNoPutTwice(r, ['UNAVAILABLE']);
    expect(failedCount(r.get), `failed gets\n${seen(r)}`).toBe(0);
    // The kill found gets in flight on the victim, and the survivors served their retries.
    expect(r.survivors.laterAttempts, 'retries the survivors served').toBeGreaterThan(0);
  });

  it('NATS: failover through a kill -9 of one of three services: gets fail only if the victim had taken them, no put runs twice', async () => {
    const r = await killUnderLoad('nats', 3, { label: 'failover, kill -9 1 of 3', failMode: 'failover' });
    kills.push(r);
    expectNoPutTwice(r, ['DEADLINE_EXCEEDED', 'UNAVAILABLE']);
    // Nothing tells the client that the instance holding its call died: those calls end at their
    // deadline, too late to fail over. Every other get succeeds.
    const notLost = r.failedStarts.filter((f) => f.method === 'get' && (f.code !== 'DEADLINE_EXCEEDED' || f.sinceKill > LOST_WITH_VICTIM_MS));
    expect(notLost, `failed gets that the victim had not taken\n${seen(r)}`).toEqual([]);
  });

  it('NATS: failretry with attemptTimeout through the same kill -9: the lost gets are cut and sent again', async () => {
    // Over NATS the registry gives one address, the queue group: failover has no other node to
    // go to, but failretry's retry to the same group reaches a live instance. The calls the victim
    // took fail one by one at their attempt timeout, each with its own error: the default budget
    // (about five retries in a row) cannot retry all of them at once.
    const r = await killUnderLoad('nats', 3, { label: 'failretry + attemptTimeout 250 ms, 200 tokens, kill -9 1 of 3', failMode: { mode: 'failretry', attemptTimeout: 250, backoff: { initialMs: 20 } }, retryBudget: { maxTokens: 200 } });
    kills.push(r);
    expectNoPutTwice(r, ['DEADLINE_EXCEEDED', 'UNAVAILABLE']);
    expect(failedCount(r.get), `failed gets\n${seen(r)}`).toBe(0);
  });

  it('NATS: failbackup through the same kill -9: the hedge rescues the gets the victim took', async () => {
    // maxExtraLoad 0.5: at this load the p95 hedges run near the default's 10 % of calls, and the
    // bucket is empty when the victim's calls need their hedges all at once.
    const r = await killUnderLoad('nats', 3, { label: 'failbackup (p95, maxExtraLoad 0.5), kill -9 1 of 3', failMode: { mode: 'failbackup', maxExtraLoad: 0.5 } });
    kills.push(r);
    expectNoPutTwice(r, ['DEADLINE_EXCEEDED', 'UNAVAILABLE']);
    expect(failedCount(r.get), `failed gets\n${seen(r)}`).toBe(0);
  });

  it('failbackup: hedging cuts the tail of a server that answers 5% of calls 200 ms late', async () => {
    hedges = await hedging();
    const [failfast, p95, fixed] = hedges as [HedgeRow, HedgeRow, HedgeRow];
    for (const row of hedges) expect(row.calls - row.ok, `${row.name}: failed calls`).toBe(0);
    // Without hedging the slow calls (1/3 × 5 % of all) are the p99.
    expect(failfast.p99, 'failfast p99: the slow tail shows').toBeGreaterThan(HEDGE_LOAD.slowMs * 0.75);
    expect(failfast.hedges, 'failfast sends no hedges').toBe(0);
    for (const row of [p95, fixed]) {
      expect(row.hedges, `${row.name}: hedges sent`).toBeGreaterThan(0);
      // Loose enough for a loaded 2-core machine, tight enough to fail if no hedge went out.
      expect(row.p99, `${row.name}: p99 against failfast's ${failfast.p99.toFixed(1)} ms`).toBeLessThan(failfast.p99 / 2);
    }
  });

  it('the retry budget: servers that fail get about one attempt per call once it is spent', async () => {
    budget = await retryBudget();
    const [held, control] = budget as [BudgetRow, BudgetRow];
    expect(held.calls, 'calls after the warm-up').toBeGreaterThan(500);
    // Failover did retry at first, until the budget ran out...
    expect(held.warmAttempts, 'attempts during the warm-up').toBeGreaterThan(held.warmCalls);
    // ...then the budget holds: attempts ≤ 1.1 × calls.
    expect(held.ratio, 'attempts per call after the warm-up').toBeLessThanOrEqual(1.1);
    // Without it the same servers get well over one attempt per call: the budget is what holds it.
    expect(control.ratio, 'attempts per call without a budget').toBeGreaterThan(1.5);
  });

  it('GOAWAY: a TCP server closed gracefully under load is invisible to failfast and failover callers', async () => {
    goaways = await goaway();
    for (const row of goaways.rows) {
      expect(row.allSettled, `${row.name}: every call settled`).toBe(true);
      expect(row.get.calls + row.put.calls, `${row.name}: calls made`).toBeGreaterThan(1_000);
      expect(row.puts.ranTwice, `${row.name}: put ids that ran twice`).toEqual([]);
      expect(row.puts.okNotOnce, `${row.name}: successful puts not journaled exactly once`).toEqual([]);
      expect(failedCount(row.get) + failedCount(row.put), `${row.name}: calls that failed\n${seen(row)}`).toBe(0);
    }
  });
});
