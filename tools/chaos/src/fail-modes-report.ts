/** The printed tables of the fail-mode scenarios (fail-modes.ts). */
import type { BudgetRow, GoawayResult, HedgeRow, KillResult } from './fail-modes.js';
import { failedCount, type MethodTally } from './fail-mode-calls.js';
import { formatTable, ms } from './table.js';

function failures(t: MethodTally): string {
  const parts = Object.entries(t.failedByCodeAndProgress)
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${key} ${n}`);
  return parts.length === 0 ? '0' : `${failedCount(t)}: ${parts.join(', ')}`;
}

export function killTable(results: readonly KillResult[]): string {
  const rows = results.map((r) => {
    const starts = r.failedStarts.map((f) => f.sinceKill);
    return [
      r.name,
      String(r.victimAtKill.inFlight),
      String(r.get.calls),
      failures(r.get),
      String(r.put.calls),
      failures(r.put),
      starts.length === 0 ? '-' : `${Math.min(...starts)}..${Math.max(...starts)} ms`,
      String(r.puts.ranTwice.length),
      String(r.puts.okNotOnce.length),
      String(r.survivors.laterAttempts),
    ];
  });
  return formatTable(['kill -9 under load (100 callers)', 'victim held', 'gets', 'gets failed', 'puts', 'puts failed', 'failed calls started, from the kill', 'put ids run twice', 'ok puts not run once', 'later attempts served'], rows);
}

export function hedgeTable(rows: readonly HedgeRow[]): string {
  return formatTable(
    ['hedging (1 of 3 servers: 5% of calls 200 ms late)', 'calls', 'failed', 'p50', 'p90', 'p99', 'max', 'p99 / p50', 'hedges', 'losers cancelled'],
    rows.map((r) => [
      r.name,
      String(r.calls),
      String(r.calls - r.ok),
      ms1(r.p50),
      ms1(r.p90),
      ms1(r.p99),
      ms(r.max),
      `${(r.p99 / r.p50).toFixed(1)}`,
      String(r.hedges),
      String(r.cancelled),
    ]),
  );
}

export function budgetTable(rows: readonly BudgetRow[]): string {
  return formatTable(
    ['retry budget (servers fail 100%, 50%, 50%)', 'warm-up calls', 'warm-up attempts', 'calls', 'attempts', 'attempts / call', 'ok'],
    rows.map((r) => [r.name, String(r.warmCalls), String(r.warmAttempts), String(r.calls), String(r.attempts), r.ratio.toFixed(3), String(r.ok)]),
  );
}

export function goawayTable(result: GoawayResult): string {
  const table = formatTable(
    ['GOAWAY (SIGTERM 2 of 3 servers in turn)', 'gets', 'gets failed', 'puts', 'puts failed', 'put ids run twice', 'ok puts not run once'],
    result.rows.map((r) => [r.name, String(r.get.calls), failures(r.get), String(r.put.calls), failures(r.put), String(r.puts.ranTwice.length), String(r.puts.okNotOnce.length)]),
  );
  return `${table}\n(all clients: ${result.laterAttempts} attempts after a first reached the servers; the SIGTERMed servers exited after ${result.exitMs.map((n) => `${n} ms`).join(' and ')})`;
}

function ms1(n: number): string {
  return `${n.toFixed(1)} ms`;
}
