// A smoke test of the harness's own code (message, histogram, closed loop, report, chart).
// It runs no benchmark: `pnpm bench` does that.
import { describe, expect, it } from 'vitest';
import { runClosedLoop } from '../src/closed-loop.js';
import { renderSvg } from '../src/chart.js';
import { LatencyHistogram } from '../src/histogram.js';
import { MESSAGE_BYTES, messageFor, sameMessage } from '../src/message.js';
import { formatTable, renderMarkdown, targetLines, type Report } from '../src/report.js';
import type { RowResult } from '../src/runner.js';

describe('message', () => {
  it('is exactly 581 bytes of JSON, whatever the call number', () => {
    expect(MESSAGE_BYTES).toBe(581);
    for (const seq of [0, 7, 123_456_789, 9_999_999_999]) expect(Buffer.byteLength(JSON.stringify(messageFor(seq)))).toBe(581);
  });

  it('compares field by field and notices a changed id or item', () => {
    const m = messageFor(42);
    expect(sameMessage(m, JSON.parse(JSON.stringify(m)))).toBe(true);
    expect(sameMessage(m, messageFor(43))).toBe(false);
    const other = JSON.parse(JSON.stringify(m));
    other.items[2].price = 4.76;
    expect(sameMessage(m, other)).toBe(false);
    expect(sameMessage(m, undefined)).toBe(false);
  });
});

describe('histogram', () => {
  it('reports percentiles in microseconds', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.recordMs(i / 1000); // 1 µs … 1000 µs
    const s = h.summary();
    expect(s.count).toBe(1000);
    expect(s.p50).toBeGreaterThan(495);
    expect(s.p50).toBeLessThan(505);
    expect(s.p99).toBeGreaterThan(985);
    expect(s.max).toBeGreaterThanOrEqual(999);
  });
});

describe('closed loop', () => {
  it('counts checked calls and catches a wrong reply', async () => {
    const good = await runClosedLoop(async (m) => JSON.parse(JSON.stringify(m)), { concurrency: 4, warmupMs: 20, durationMs: 60, maxCalls: 1e6 });
    expect(good.calls).toBeGreaterThan(0);
    expect(good.mismatches + good.errors).toBe(0);
    const bad = await runClosedLoop(async (m) => ({ ...m, requestId: 'nope' }), { concurrency: 2, warmupMs: 0, durationMs: 20, maxCalls: 10 });
    expect(bad.mismatches).toBe(10);
    expect(bad.calls).toBe(0);
  });
});

const row = (id: string, kind: RowResult['kind'], concurrency: number, callsPerSecond: number, p99 = 5000): RowResult => ({
  id,
  title: `${id} <&>`,
  kind,
  concurrency,
  status: 'ok',
  load: { calls: callsPerSecond, totalCalls: callsPerSecond, cpuUs: callsPerSecond * 30, callsPerSecond, windowMs: 1000, latency: { count: 1, mean: 1, p50: 1000, p90: 2000, p99, p999: p99, max: p99 }, mismatches: 0, errors: 0, firstError: undefined },
  rss: { server: 80, client: 90 },
  cpuUsPerCall: { server: 12, client: 18 },
  loadavg: 1.5,
});

describe('report', () => {
  const rows = [row('svc-tcp-json', 'svc', 100, 60_000, 2000), row('svc-tcp-proto', 'svc', 100, 80_000, 1000), row('raw-net', 'ceiling', 100, 70_000), row('nest-tcp', 'peer', 100, 20_000)];
  rows.push({ id: 'svc-nats', title: '@svc NATS', kind: 'svc', concurrency: 100, status: 'skipped', note: 'needs x', rss: {} });

  it('prints a table with one line per row', () => {
    const lines = formatTable(rows).split('\n');
    expect(lines).toHaveLength(2 + rows.length);
    expect(lines[2]).toContain('60,000');
    expect(lines[6]).toContain('skipped');
  });

  it('computes the targets of the issue as ratios', () => {
    expect(targetLines(rows)).toEqual([
      'C=100: @svc TCP = 3.00× [CPU/call 30 vs 30 µs] nest-tcp <&> (target ≥ 2×), p99 0.40× theirs (target ≤ 0.5×)',
      'C=100: @svc TCP = 86 % of raw net (target ≥ 75 %) [CPU/call 30 vs 30 µs]',
      'C=100: @svc TCP protobuf = 4.00× [CPU/call 30 vs 30 µs] nest-tcp <&> (target ≥ 2×), p99 0.20× theirs (target ≤ 0.5×)',
      'C=100: @svc TCP protobuf = 114 % of raw net (target ≥ 75 %) [CPU/call 30 vs 30 µs]',
    ]);
  });

  it('counts the CPU of nats-server in the rows that use one, and in their ratios', () => {
    const natsRows = [
      { ...row('svc-nats', 'svc', 100, 45_000), cpuUsPerCall: { server: 15, client: 17, broker: 8 } },
      { ...row('moleculer-nats', 'peer', 100, 30_000), cpuUsPerCall: { server: 24, client: 28, broker: 12 } },
    ];
    expect(formatTable(natsRows).split('\n')[2]).toContain('15 + 17 + 8');
    expect(targetLines(natsRows)[0]).toBe('C=100: @svc NATS = 1.50× [CPU/call 40 vs 64 µs] moleculer-nats <&> (target ≥ 1.5×)');
  });

  it('writes markdown and a well-formed SVG with escaped titles', () => {
    const report: Report = {
      startedAt: 'a',
      finishedAt: 'b',
      mode: 'quick',
      settings: { warmupMs: 400, durationMs: 1400, concurrency: [100], repeat: 1 },
      messageBytes: 581,
      machine: { cpu: 'x', cores: 2, memoryGiB: 24, node: 'v20', os: 'Linux', loadavg: [1, 2] },
      rows,
      filters: [{ filters: 0, composeNs: 10, inprocCallsPerSecond: 100, inprocCostPercent: 0 }],
    };
    const md = renderMarkdown(report, 'quick.svg');
    expect(md).toContain('| svc-tcp-json <&> | 100 | 60,000 |');
    expect(md).toContain('| 12 + 18 | 80 | 90 | - | 1.5 |');
    expect(md).toContain('![calls per second](quick.svg)');
    const svg = renderSvg(rows, 'title & more');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('svc-tcp-json &lt;&amp;&gt;');
    expect(svg).not.toMatch(/<&>/);
    expect(svg.match(/<rect /g)).toHaveLength(1 + 4 * 2); // background, then calls/s and p99 per ok row
  });
});
