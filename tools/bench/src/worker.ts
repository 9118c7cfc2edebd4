/**
 * One side of one row in its own process, forked by the runner:
 *   node dist/worker.js server <rowId> '<ServerEnv json>'
 *   node dist/worker.js client <rowId>     (loads the row, says 'loaded', waits for 'start')
 *   node dist/worker.js filters '<FilterBenchOptions json>'
 * It talks to the runner over the IPC channel (see WorkerMessage) and exits by itself.
 */
import { runClosedLoop, type LoadOptions, type LoadResult } from './closed-loop.js';
import type { FilterBenchOptions, FilterBenchRow } from './filter-bench.js';
import { findRow } from './rows/index.js';
import type { ClientEnv, ServerEnv } from './row.js';

/** What the runner sends: a client starts its load, a server reports and exits. */
export type RunnerMessage = { type: 'start'; env: ClientEnv; load: LoadOptions } | { type: 'stop' };

/** What a worker sends back. */
export type WorkerMessage =
  | { type: 'ready'; address: string }
  | { type: 'loaded' }
  | { type: 'result'; result: LoadResult; maxRssKb: number }
  | { type: 'stopped'; maxRssKb: number; cpuUs: number }
  | { type: 'filters'; rows: FilterBenchRow[] }
  | { type: 'failed'; error: string };

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, undefined, {}, () => resolve()));
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

async function main(): Promise<void> {
  const [role, rowId, envJson] = process.argv.slice(2);
  if (!process.send) throw new Error('worker.js is started by the runner, with an IPC channel');
  // A runner that dies (even by SIGKILL) closes the channel: no worker outlives it.
  process.on('disconnect', () => process.exit(0));
  if (role === 'filters') {
    // Loaded on demand, like the rows: a peer's row never loads @svc/core.
    const { runFilterBench } = await import('./filter-bench.js');
    await send({ type: 'filters', rows: await runFilterBench(JSON.parse(rowId!) as FilterBenchOptions) });
    process.exit(0);
  }
  const spec = findRow(rowId ?? '');
  const row = await spec.load();

  if (role === 'server') {
    const handle = await row.server(JSON.parse(envJson!) as ServerEnv);
    let cpuAtReady: NodeJS.CpuUsage | undefined;
    process.on('message', (message: RunnerMessage) => {
      if (message.type !== 'stop') return;
      // The peak RSS and the CPU time spent since ready (serving the client) go first; closing
      // is a courtesy the runner does not wait for (it kills this process by pid).
      const cpu = process.cpuUsage(cpuAtReady);
      void send({ type: 'stopped', maxRssKb: process.resourceUsage().maxRSS, cpuUs: cpu.user + cpu.system })
        .then(() => Promise.race([handle.close(), new Promise((r) => setTimeout(r, 1000))]))
        .catch(() => undefined)
        .then(() => process.exit(0));
    });
    cpuAtReady = process.cpuUsage();
    await send({ type: 'ready', address: handle.address });
    return;
  }

  if (role === 'client') {
    // Loaded while the server starts; the address comes with 'start'.
    const start = new Promise<RunnerMessage & { type: 'start' }>((resolve) =>
      process.on('message', (message: RunnerMessage) => {
        if (message.type === 'start') resolve(message);
      }),
    );
    await send({ type: 'loaded' });
    const { env, load } = await start;
    const handle = await row.client(env);
    const result = await runClosedLoop((m) => handle.call(m), load);
    await send({ type: 'result', result, maxRssKb: process.resourceUsage().maxRSS });
    await Promise.race([handle.close(), new Promise((r) => setTimeout(r, 1000))]).catch(() => undefined);
    process.exit(0);
  }

  throw new Error(`unknown role '${role}': expected server or client`);
}

main().catch(async (error: unknown) => {
  if (process.send) await send({ type: 'failed', error: describe(error) });
  else console.error(error);
  process.exit(1);
});
