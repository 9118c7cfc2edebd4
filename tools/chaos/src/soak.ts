/**
 * pnpm soak: TCP and NATS at a steady load for SOAK_SECONDS (default 600), each with a server
 * process and a client process, and a nats-server of its own. Every few seconds each process
 * reports its RSS, heap used (after a full GC) and active handles. After the warm-up, each figure
 * must grow less than 10 % (median of the first window against median of the last); the run
 * prints a table, writes every sample to results/soak-<time>.json, and exits 1 on too much
 * growth, on any failed call, or when a process dies.
 *
 *   SOAK_SECONDS=120 pnpm soak      SOAK_RATE=5000 (calls/s per transport)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { growthOf, type Growth } from './growth.js';
import { ChildHandle, killAll } from './launcher.js';
import type { LoadCounts } from './load.js';
import { NatsServer } from './nats-server.js';
import type { ProcessSample } from './process-sample.js';
import { writeResults } from './results-file.js';
import { formatTable } from './table.js';

const SECONDS = Number(process.env['SOAK_SECONDS'] ?? 600);
/** Sampling period: about a hundred samples per run, between every 2 and every 5 s. */
const SAMPLE_MS = Math.min(5_000, Math.max(2_000, (SECONDS * 1000) / 100));
/** Figures settle (JIT, heap sizing, buffers) during the first minute, or the first quarter of a short run. */
const WARMUP_SECONDS = Number(process.env['SOAK_WARMUP_SECONDS'] ?? Math.min(60, SECONDS / 4));
const RATE = Number(process.env['SOAK_RATE'] ?? 2_000);
const CONCURRENCY = Number(process.env['SOAK_CONCURRENCY'] ?? 32);
/** Over a second, so deadlines use the shared sweep timer: timers then do not follow calls in flight. */
const DEADLINE_MS = 5_000;
const BOUND = 0.1;
const METRICS = ['rss', 'heapUsed', 'handles'] as const;
type Metric = (typeof METRICS)[number];

interface Sample {
  /** Seconds since the load started. */
  t: number;
  processes: Record<string, ProcessSample>;
  loads: Record<string, LoadCounts>;
  natsServerRss: number | undefined;
}

process.once('SIGINT', () => {
  killAll();
  process.exit(130);
});

async function main(): Promise<number> {
  console.log(`soak: ${SECONDS} s, warm-up ${WARMUP_SECONDS} s, a sample every ${SAMPLE_MS / 1000} s, ${RATE} calls/s per transport at ${CONCURRENCY} callers`);
  const natsd = await NatsServer.start();
  const gc = { exposeGc: true };
  const [tcpServer, natsServer] = await Promise.all([
    ChildHandle.launch('server-process', ['tcp', 'tcp://127.0.0.1:0'], { name: 'tcp server', ...gc }),
    ChildHandle.launch('server-process', ['nats', natsd.url], { name: 'nats server', ...gc }),
  ]);
  const loadArgs = [String(CONCURRENCY), String(RATE), String(DEADLINE_MS)];
  const [tcpClient, natsClient] = await Promise.all([
    ChildHandle.launch('load-process', ['tcp', tcpServer.address, ...loadArgs], { name: 'tcp client', ...gc }),
    ChildHandle.launch('load-process', ['nats', natsd.url, ...loadArgs], { name: 'nats client', ...gc }),
  ]);
  const children = [tcpServer, tcpClient, natsServer, natsClient];
  const loads = { tcp: tcpClient, nats: natsClient };

  const samples: Sample[] = [];
  const origin = Date.now();
  let died: string | undefined;
  let nextReport = 30;
  while ((Date.now() - origin) / 1000 < SECONDS) {
    await sleep(SAMPLE_MS - ((Date.now() - origin) % SAMPLE_MS));
    const dead = children.find((c) => !c.running);
    if (dead) {
      died = `${dead.name} (pid ${dead.pid}) exited during the soak`;
      break;
    }
    try {
      samples.push(await takeSample(children, loads, natsd, (Date.now() - origin) / 1000));
    } catch (error) {
      died = String(error);
      break;
    }
    const last = samples.at(-1)!;
    if (last.t >= nextReport) {
      nextReport += 30;
      console.log(progressLine(samples));
    }
  }

  await Promise.all([tcpClient.stop(), natsClient.stop()]);
  await Promise.all([tcpServer.stop(), natsServer.stop()]);
  await natsd.kill();
  return report(samples, died);
}

async function takeSample(children: ChildHandle[], loads: Record<string, ChildHandle>, natsd: NatsServer, t: number): Promise<Sample> {
  const answers = await Promise.all(children.map((c) => c.sample()));
  const processes: Record<string, ProcessSample> = {};
  const counts: Record<string, LoadCounts> = {};
  children.forEach((c, i) => (processes[c.name] = answers[i]!.sample));
  for (const [transport, child] of Object.entries(loads)) counts[transport] = answers[children.indexOf(child)]!.load!;
  return { t, processes, loads: counts, natsServerRss: natsd.rss() };
}

function progressLine(samples: readonly Sample[]): string {
  const last = samples.at(-1)!;
  const before = samples.at(-Math.min(samples.length, Math.round(30_000 / SAMPLE_MS) + 1))!;
  const rate = (transport: string): string => {
    const calls = last.loads[transport]!.settled - (before === last ? 0 : before.loads[transport]!.settled);
    return `${Math.round(calls / Math.max(1, before === last ? last.t : last.t - before.t))}/s`;
  };
  const rss = Object.entries(last.processes).map(([name, s]) => `${name} ${mib(s.rss)}`).join(', ');
  return `  ${Math.round(last.t)} s: tcp ${rate('tcp')}, nats ${rate('nats')}; rss ${rss}`;
}

function report(samples: readonly Sample[], died: string | undefined): number {
  const measured = samples.filter((s) => s.t >= WARMUP_SECONDS);
  const window = Math.max(3, Math.floor(measured.length / 4));
  const problems: string[] = [];
  if (died) problems.push(died);
  if (measured.length < 6) problems.push(`only ${measured.length} samples after the warm-up: run longer (SOAK_SECONDS)`);

  const rows: string[][] = [];
  const growth: Record<string, Record<Metric, Growth>> = {};
  for (const name of Object.keys(measured[0]?.processes ?? {})) {
    growth[name] = {} as Record<Metric, Growth>;
    for (const metric of METRICS) {
      const g = growthOf(measured.map((s) => s.processes[name]![metric]), window);
      growth[name][metric] = g;
      const over = !(g.growth < BOUND);
      if (over) problems.push(`${name} ${metric} grew ${percent(g.growth)} (bound ${percent(BOUND)})`);
      const show = metric === 'handles' ? String : mib;
      rows.push([name, metric, show(g.first), show(g.last), percent(g.growth), over ? 'OVER' : 'ok']);
    }
  }
  const natsRss = measured.map((s) => s.natsServerRss).filter((x): x is number => x !== undefined);
  if (natsRss.length > 0) {
    const g = growthOf(natsRss, window);
    rows.push(['nats-server', 'rss', mib(g.first), mib(g.last), percent(g.growth), 'not gated (not @svc)']);
  }

  const callRows: string[][] = [];
  const first = measured[0];
  const last = measured.at(-1);
  for (const transport of ['tcp', 'nats']) {
    const end = samples.at(-1)?.loads[transport];
    if (!end) continue;
    const failed = Object.entries(end.failedByCode).map(([code, n]) => `${code} ${n}`).join(', ');
    if (failed) problems.push(`${transport}: calls failed: ${failed} (${Object.values(end.exampleByCode)[0]})`);
    if (end.mismatches > 0) problems.push(`${transport}: ${end.mismatches} replies were not the echo of their request`);
    const rate = first && last && last !== first ? (last.loads[transport]!.ok - first.loads[transport]!.ok) / (last.t - first.t) : NaN;
    callRows.push([transport, String(end.ok), failed || '0', String(end.mismatches), `${Math.round(rate)}/s`, `${Math.round(end.worstSettleMs)} ms`]);
  }

  console.log(`\nsoak: ${samples.length} samples over ${Math.round(samples.at(-1)?.t ?? 0)} s; growth after the ${WARMUP_SECONDS} s warm-up, median of the first ${window} samples against the last ${window}\n`);
  console.log(formatTable(['process', 'figure', 'first', 'last', 'growth', 'verdict'], rows));
  console.log();
  console.log(formatTable(['transport', 'calls ok', 'failed', 'wrong replies', 'calls/s after warm-up', 'slowest call'], callRows));
  const file = writeResults('soak', {
    node: process.version,
    config: { seconds: SECONDS, sampleMs: SAMPLE_MS, warmupSeconds: WARMUP_SECONDS, rate: RATE, concurrency: CONCURRENCY, deadlineMs: DEADLINE_MS, bound: BOUND, window },
    growth,
    problems,
    samples,
  });
  console.log(`\n${problems.length === 0 ? 'soak passed' : `soak FAILED:\n  ${problems.join('\n  ')}`}\n(samples in ${file})`);
  return problems.length === 0 ? 0 : 1;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function percent(x: number): string {
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    killAll();
    process.exit(1);
  },
);
