/**
 * pnpm bench [--quick] [--repeat=N] [--only=id,id] [--concurrency=100,1000] [--duration=S] [--warmup=S]
 *            [--no-filters] [--out=DIR] [--profile]
 * Runs every row at every concurrency in fresh processes, then the filter-chain micro-benchmark;
 * prints a table and writes <mode>.json, <mode>.md and <mode>.svg to results/. --profile also
 * writes a CPU profile of every server and client process to results/profiles/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSvg } from './chart.js';
import type { FilterBenchOptions, FilterBenchRow } from './filter-bench.js';
import { MESSAGE_BYTES } from './message.js';
import { exited, forkWorker, killByPid, nextMessage } from './processes.js';
import { describeMachine, formatFilters, formatTable, renderMarkdown, targetLines, type Report } from './report.js';
import { ROWS } from './rows/index.js';
import { runRow, type RowResult, type RunSettings } from './runner.js';

const USAGE = `usage: pnpm bench [options]

  --quick                 smoke run: 0.3 s warm-up + 1.2 s per row and concurrency (default 2 s + 10 s)
  --only=ID,ID            only these rows: ${ROWS.map((r) => r.id).join(', ')}
  --concurrency=N,N       concurrent callers (default 100,1000)
  --duration=S --warmup=S seconds measured / of warm-up per row
  --repeat=N              N interleaved rounds; each row reports its median round (default 1; odd N is best)
  --no-filters            skip the filter-chain micro-benchmark
  --profile               CPU profile of every server and client into <out>/profiles/
  --out=DIR               where <mode>.json, .md and .svg go (default tools/bench/results)`;

interface Args {
  quick: boolean;
  repeat: number;
  only: string[] | undefined;
  concurrency: number[];
  settings: RunSettings;
  filters: boolean;
  out: string;
}

function parseArgs(argv: readonly string[]): Args {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    if (arg === '--') continue;
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unknown argument '${arg}'; see the top of tools/bench/src/cli.ts or README.md`);
    flags.set(match[1]!, match[2] ?? 'true');
  }
  const known = ['quick', 'repeat', 'only', 'concurrency', 'duration', 'warmup', 'no-filters', 'out', 'profile', 'help'];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name}; options: ${known.map((k) => `--${k}`).join(' ')}`);
  if (flags.has('help')) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = flags.has('quick');
  const seconds = (name: string, fallback: number): number => {
    const value = Number(flags.get(name) ?? fallback);
    if (!(value > 0 && value <= 600)) throw new Error(`--${name} takes seconds between 0 and 600`);
    return value * 1000;
  };
  const only = flags.get('only')?.split(',').map((s) => s.trim()).filter(Boolean);
  for (const id of only ?? []) if (!ROWS.some((r) => r.id === id)) throw new Error(`--only: no row '${id}'; rows: ${ROWS.map((r) => r.id).join(', ')}`);
  const concurrency = (flags.get('concurrency') ?? '100,1000').split(',').map(Number);
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1 || c > 10_000)) throw new Error('--concurrency takes integers between 1 and 10000');
  const out = flags.get('out') ?? fileURLToPath(new URL('../results/', import.meta.url));
  const repeat = Number(flags.get('repeat') ?? 1);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 10) throw new Error('--repeat takes an integer between 1 and 10');
  return {
    quick,
    repeat,
    only,
    concurrency,
    settings: {
      warmupMs: seconds('warmup', quick ? 0.3 : 2),
      durationMs: seconds('duration', quick ? 1.2 : 10),
      profileDir: flags.has('profile') ? path.join(out, 'profiles') : undefined,
    },
    filters: !flags.has('no-filters'),
    out,
  };
}

async function filterBench(quick: boolean): Promise<FilterBenchRow[]> {
  const options: FilterBenchOptions = quick
    ? { rounds: 1, composeCalls: 200_000, inprocMs: 400, concurrency: 100 }
    : { rounds: 3, composeCalls: 2_000_000, inprocMs: 3000, concurrency: 100 };
  const child = forkWorker(['filters', JSON.stringify(options)]);
  try {
    const answer = await nextMessage(child, 180_000, 'filter bench');
    if (answer.type !== 'filters') throw new Error(`filter bench sent '${answer.type}'`);
    return answer.rows;
  } finally {
    await exited(child, 2000);
    killByPid(child);
  }
}

/** The run with the median calls/s among the ok ones, noting every round's figure. */
function median(results: RowResult[]): RowResult {
  if (results.length === 1) return results[0]!;
  const ok = results.filter((r) => r.status === 'ok').sort((a, b) => a.load!.callsPerSecond - b.load!.callsPerSecond);
  const failed = results.filter((r) => r.status !== 'ok');
  const pick = ok[Math.floor((ok.length - 1) / 2)] ?? failed[0]!;
  const rounds = results.map((r) => (r.status === 'ok' ? r.load!.callsPerSecond : 0));
  const notes = [
    ok.length > 1 ? `median of ${ok.length} rounds: ${rounds.map((x) => (x === 0 ? 'failed' : `${Math.round(x / 1000)}k`)).join(' / ')}` : '',
    failed.length > 0 && ok.length > 0 ? `${failed.length} round(s) failed: ${failed[0]!.note}` : '',
    pick.note ?? '',
  ].filter(Boolean);
  return { ...pick, rounds, note: notes.join('; ') || undefined };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const loadAtStart = os.loadavg()[0]!;
  const rows = args.only ? ROWS.filter((r) => args.only!.includes(r.id)) : ROWS;
  const mode = args.quick ? 'quick' : 'full';
  console.log(`@svc bench (${mode}): ${rows.length} rows × C = ${args.concurrency.join(', ')}, ${args.settings.warmupMs / 1000} s warm-up + ${args.settings.durationMs / 1000} s each`);

  // With --repeat, whole rounds over every row are interleaved, so that a burst of other work
  // on the machine hits one round of each row rather than every round of one row.
  const runs = new Map<string, RowResult[]>();
  const skipped = new Set<string>();
  for (let round = 1; round <= args.repeat; round++) {
    for (const spec of rows) {
      if (skipped.has(spec.id)) continue;
      for (const c of args.concurrency) {
        const result = await runRow(spec, c, args.settings);
        const key = `${spec.id}@${c}`;
        runs.set(key, [...(runs.get(key) ?? []), result]);
        const l = result.load;
        const summary = result.status === 'ok' && l ? `${l.callsPerSecond.toLocaleString('en-US')} calls/s, p99 ${(l.latency.p99 / 1000).toFixed(2)} ms` : result.status;
        const prefix = args.repeat > 1 ? `[${round}/${args.repeat}] ` : '';
        console.log(`  ${prefix}${spec.id.padEnd(16)} C=${String(c).padEnd(5)} ${summary}${result.note ? `  (${result.note})` : ''}`);
        if (result.status === 'skipped') {
          skipped.add(spec.id);
          break;
        }
      }
    }
  }
  const results = [...runs.values()].map(median);
  const filters = args.filters ? await filterBench(args.quick) : undefined;

  const report: Report = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    mode,
    settings: { ...args.settings, concurrency: args.concurrency, repeat: args.repeat },
    messageBytes: MESSAGE_BYTES,
    machine: describeMachine(loadAtStart),
    rows: results,
    filters,
  };
  console.log(`\n${formatTable(results)}`);
  if (filters) console.log(`\n${formatFilters(filters)}`);
  console.log('');
  for (const line of targetLines(results, filters)) console.log(line);

  mkdirSync(args.out, { recursive: true });
  const file = (ext: string): string => path.join(args.out, `${mode}.${ext}`);
  const json = JSON.stringify(report, null, 2) + '\n';
  writeFileSync(file('json'), json);
  // Every run's JSON is kept too, to compare runs later.
  mkdirSync(path.join(args.out, 'history'), { recursive: true });
  writeFileSync(path.join(args.out, 'history', `${started.toISOString().replace(/[:.]/g, '-')}-${mode}.json`), json);
  writeFileSync(file('svg'), renderSvg(results, `@svc bench (${mode}): unary echo, ${MESSAGE_BYTES}-byte message, ${started.toISOString().slice(0, 16)}Z`));
  writeFileSync(file('md'), renderMarkdown(report, `${mode}.svg`));
  console.log(`\nwrote ${file('json')}, ${file('md')}, ${file('svg')} (${((Date.now() - started.getTime()) / 1000).toFixed(1)} s)`);
  if (results.some((r) => r.status === 'failed')) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(2);
});
