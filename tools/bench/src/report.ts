/** The bench report: a terminal table, markdown and JSON, from one run's results. */
import os from 'node:os';
import type { FilterBenchRow } from './filter-bench.js';
import type { RowResult, RunSettings } from './runner.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  /** 1-minute load average when the run started and when it finished. */
  loadavg: [number, number];
}

export interface Report {
  startedAt: string;
  finishedAt: string;
  mode: 'quick' | 'full';
  settings: RunSettings & { concurrency: number[]; repeat: number };
  messageBytes: number;
  machine: Machine;
  rows: RowResult[];
  filters: FilterBenchRow[] | undefined;
}

export function describeMachine(loadAtStart: number): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    loadavg: [round(loadAtStart, 2), round(os.loadavg()[0]!, 2)],
  };
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;
const thousands = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (us: number): string => (us / 1000).toFixed(us < 10_000 ? 2 : 1);
const mb = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(0));

const COLUMNS = ['row', 'C', 'calls/s', 'p50 ms', 'p99 ms', 'max ms', 'CPU µs/call srv+cli(+nats)', 'RSS srv MB', 'RSS cli MB', 'RSS nats MB', 'load', 'note'] as const;

function cpu(r: RowResult): string {
  const c = r.cpuUsPerCall;
  if (!c || r.status !== 'ok') return '-';
  const sides = `${c.server === undefined ? '?' : c.server.toFixed(0)} + ${c.client.toFixed(0)}`;
  return c.broker === undefined ? sides : `${sides} + ${c.broker.toFixed(0)}`;
}

function cells(r: RowResult): string[] {
  const l = r.load;
  const ok = r.status === 'ok' && l !== undefined;
  return [
    r.title,
    String(r.concurrency),
    ok ? thousands(l.callsPerSecond) : r.status,
    ok ? ms(l.latency.p50) : '-',
    ok ? ms(l.latency.p99) : '-',
    ok ? ms(l.latency.max) : '-',
    cpu(r),
    mb(r.rss.server),
    mb(r.rss.client),
    mb(r.rss.broker),
    r.loadavg === undefined ? '-' : r.loadavg.toFixed(1),
    r.note ?? '',
  ];
}

/** A fixed-width table for the terminal. */
export function formatTable(rows: readonly RowResult[]): string {
  const body = rows.map(cells);
  const widths = COLUMNS.map((c, i) => (i === COLUMNS.length - 1 ? 0 : Math.max(c.length, ...body.map((b) => b[i]!.length))));
  const line = (values: readonly string[]): string =>
    values.map((v, i) => (i === 0 || i === values.length - 1 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(COLUMNS), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

export function formatFilters(rows: readonly FilterBenchRow[]): string {
  return [
    'filters  composeFilters ns/call  in-process calls/s  cost vs 0',
    ...rows.map((r) => `${String(r.filters).padStart(7)}  ${r.composeNs.toFixed(1).padStart(22)}  ${thousands(r.inprocCallsPerSecond).padStart(18)}  ${`${r.inprocCostPercent.toFixed(1)} %`.padStart(9)}`),
  ].join('\n');
}

/** The issue's targets as ratios within this run, for the rows and concurrencies it has. */
export function targetLines(rows: readonly RowResult[], filters?: readonly FilterBenchRow[]): string[] {
  const lines: string[] = [];
  const ok = (id: string, c: number): RowResult | undefined => rows.find((r) => r.id === id && r.concurrency === c && r.status === 'ok');
  const cps = (r: RowResult): number => r.load!.callsPerSecond;
  const fastest = (ids: string[], c: number): RowResult | undefined =>
    ids.map((id) => ok(id, c)).reduce<RowResult | undefined>((best, r) => (r && (!best || cps(r) > cps(best)) ? r : best), undefined);
  // Every process the call passes through, the broker included: on two cores they share the CPU.
  const cpuPerCall = (r: RowResult): number | undefined =>
    r.cpuUsPerCall?.server === undefined ? undefined : r.cpuUsPerCall.server + r.cpuUsPerCall.client + (r.cpuUsPerCall.broker ?? 0);
  // CPU per call is the steadier measure on a shared machine: give it next to every throughput ratio.
  const times = (a: RowResult, b: RowResult): string => {
    const ca = cpuPerCall(a);
    const cb = cpuPerCall(b);
    const cpu = ca !== undefined && cb !== undefined ? ` [CPU/call ${ca.toFixed(0)} vs ${cb.toFixed(0)} µs]` : '';
    return `${(cps(a) / cps(b)).toFixed(2)}×${cpu}`;
  };
  for (const c of new Set(rows.map((r) => r.concurrency))) {
    const tcpPeer = fastest(['moleculer-tcp', 'nest-tcp'], c);
    const raw = ok('raw-net', c);
    // Both codecs: JSON (any value, no codegen) and protobuf (what svc-gen's schemas give).
    for (const [id, label] of [['svc-tcp-json', 'TCP'], ['svc-tcp-proto', 'TCP protobuf']] as const) {
      const tcp = ok(id, c);
      if (tcp && tcpPeer) {
        const p99 = tcp.load!.latency.p99 / tcpPeer.load!.latency.p99;
        lines.push(`C=${c}: @svc ${label} = ${times(tcp, tcpPeer)} ${tcpPeer.title} (target ≥ 2×), p99 ${p99.toFixed(2)}× theirs (target ≤ 0.5×)`);
      }
      if (tcp && raw) {
        const ct = cpuPerCall(tcp);
        const cr = cpuPerCall(raw);
        const cpu = ct !== undefined && cr !== undefined ? ` [CPU/call ${ct.toFixed(0)} vs ${cr.toFixed(0)} µs]` : '';
        lines.push(`C=${c}: @svc ${label} = ${Math.round((cps(tcp) / cps(raw)) * 100)} % of raw net (target ≥ 75 %)${cpu}`);
      }
    }
    // Issue 13: a fail mode against healthy servers costs little beside plain failfast.
    const failfast = ok('svc-tcp-proto', c);
    for (const [id, label] of [['svc-tcp-failover', 'failover'], ['svc-tcp-failbackup', 'failbackup at p95']] as const) {
      const mode = ok(id, c);
      if (mode && failfast) lines.push(`C=${c}: @svc TCP protobuf with ${label} costs ${((1 - cps(mode) / cps(failfast)) * 100).toFixed(1)} % of failfast's throughput (target < 5 %), ${times(mode, failfast)}`);
    }
    const molNats = ok('moleculer-nats', c);
    const plain = ok('nats-request', c);
    for (const [id, label] of [['svc-nats', 'NATS'], ['svc-nats-proto', 'NATS protobuf']] as const) {
      const nats = ok(id, c);
      if (nats && molNats) lines.push(`C=${c}: @svc ${label} = ${times(nats, molNats)} ${molNats.title} (target ≥ 1.5×)`);
      if (nats && plain) lines.push(`C=${c}: @svc ${label} = ${times(nats, plain)} ${plain.title} (target ≥ 2×)`);
    }
  }
  const five = filters?.find((f) => f.filters === 5);
  if (five) lines.push(`5 no-op filters per side cost ${five.inprocCostPercent.toFixed(1)} % of in-process throughput (target < 10 %)`);
  return lines;
}

export function renderMarkdown(report: Report, chartFile: string): string {
  const m = report.machine;
  const header = `| ${COLUMNS.join(' | ')} |\n| ${COLUMNS.map((_, i) => (i === 0 || i === COLUMNS.length - 1 ? '---' : '---:')).join(' | ')} |`;
  const table = report.rows.map((r) => `| ${cells(r).map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`).join('\n');
  const parts = [
    `# @svc bench, ${report.mode} run`,
    '',
    `${report.startedAt} → ${report.finishedAt}. Unary echo of a ${report.messageBytes}-byte JSON message (the same fields as protobuf for grpc-js), ` +
      `client and server in separate processes on 127.0.0.1, closed loop, ${report.settings.warmupMs / 1000} s warm-up then ` +
      `${report.settings.durationMs / 1000} s measured, fresh processes for every row; every reply checked against its request.` +
      (report.settings.repeat > 1 ? ` ${report.settings.repeat} interleaved rounds; each line is the round with the median calls/s.` : ''),
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; load average ${m.loadavg[0]} at the start, ${m.loadavg[1]} at the end ` +
      `('load' in the table: the 1-minute load average as each row finished). CPU µs/call is the CPU time of the server, of the client and of nats-server (for the rows that use one) ` +
      `divided by the calls they completed (warm-up included): steadier than calls/s when the machine is shared.`,
    '',
    header,
    table,
    '',
    `![calls per second](${chartFile})`,
  ];
  const targets = targetLines(report.rows, report.filters);
  if (targets.length > 0) parts.push('', '## Targets of issues 5 and 13 in this run', '', ...targets.map((t) => `- ${t}`));
  if (report.filters) {
    parts.push(
      '',
      '## Filter chain',
      '',
      'No-op filters `(call, next) => next()`; composeFilters alone (sequential awaits), and whole in-process calls (`inproc()`, C = 100) with the filters on the client and as many on the server.',
      '',
      '| filters | composeFilters ns/call | in-process calls/s | cost vs 0 |',
      '| ---: | ---: | ---: | ---: |',
      ...report.filters.map((f) => `| ${f.filters} | ${f.composeNs.toFixed(1)} | ${thousands(f.inprocCallsPerSecond)} | ${f.inprocCostPercent.toFixed(1)} % |`),
    );
  }
  return parts.join('\n') + '\n';
}
