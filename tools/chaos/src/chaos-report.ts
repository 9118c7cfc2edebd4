/** The chaos table: one row per scenario. */
import type { ScenarioResult } from './scenario.js';
import { formatTable, ms } from './table.js';

export function chaosTable(results: readonly ScenarioResult[]): string {
  const rows = results.map((r) => {
    const c = r.counts;
    const failed = Object.entries(c.failedByCode)
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    return [
      r.name,
      String(c.started),
      String(c.ok),
      failed || '-',
      String(c.started - c.settled),
      `${ms(c.worstSettleMs)} / ${ms(r.deadlineMs)}`,
      ms(r.recoveryMs),
      Object.entries(r.leftoverHandles ?? {}).map(([kind, n]) => `${kind} ${n}`).join(', ') || '-',
    ];
  });
  return formatTable(['scenario', 'calls', 'ok', 'failed, by code', 'hung', 'worst settle / deadline', 'recovered after repair', 'left over'], rows);
}
