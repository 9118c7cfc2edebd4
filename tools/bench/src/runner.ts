/**
 * Runs one row at one concurrency in fresh processes: (nats-server), server worker, client
 * worker; collects the client's result and every process's peak RSS; kills leftovers by pid.
 */
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { LoadOptions, LoadResult } from './closed-loop.js';
import { exited, forkWorker, freePort, killByPid, nextMessage, startNats, type NatsServer } from './processes.js';
import type { ClientEnv, RowSpec, ServerEnv } from './row.js';
import type { RunnerMessage } from './worker.js';

export interface RunSettings {
  warmupMs: number;
  durationMs: number;
  /** Write a CPU profile of each server and client here (`<row>-c<C>-<role>.cpuprofile`). */
  profileDir?: string | undefined;
}

export interface RowResult {
  id: string;
  title: string;
  kind: RowSpec['kind'];
  concurrency: number;
  status: 'ok' | 'failed' | 'skipped';
  /** Why a row was skipped or failed, or a warning (errors, mismatches) for an ok row. */
  note?: string;
  load?: LoadResult;
  /** Peak RSS in MiB of each process. */
  rss: { server?: number; client?: number; broker?: number };
  /**
   * CPU time per call in microseconds (user + system, warm-up included) of each side: steadier
   * than calls/s when other work shares the machine.
   */
  cpuUsPerCall?: { server?: number; client: number; broker?: number };
  /** With --repeat: calls/s of every round (0 for a failed one); this result is the median one. */
  rounds?: number[];
  /** The 1-minute load average when the row finished: how busy the machine was. */
  loadavg?: number;
}

const HOST = '127.0.0.1';
const START_TIMEOUT = 20_000;

export async function runRow(spec: RowSpec, concurrency: number, settings: RunSettings): Promise<RowResult> {
  const base = { id: spec.id, title: spec.title, kind: spec.kind, concurrency, rss: {} } as RowResult;
  const missing = spec.unavailable?.();
  if (missing) return { ...base, status: 'skipped', note: missing };

  let nats: NatsServer | undefined;
  let server: ChildProcess | undefined;
  let client: ChildProcess | undefined;
  const rss: RowResult['rss'] = {};
  const t0 = Date.now();
  const phase = (what: string): void => {
    if (process.env['BENCH_DEBUG']) console.error(`    [${spec.id} C=${concurrency}] ${what} at ${Date.now() - t0} ms`);
  };
  try {
    if (spec.broker === 'nats') nats = await startNats();
    const serverEnv: ServerEnv = { host: HOST, port: await freePort(), natsUrl: nats?.url };
    const profile = (role: string): { dir: string; name: string } | undefined =>
      settings.profileDir === undefined ? undefined : { dir: settings.profileDir, name: `${spec.id}-c${concurrency}-${role}` };
    server = forkWorker(['server', spec.id, JSON.stringify(serverEnv)], profile('server'));
    // The client process loads its modules while the server starts.
    client = forkWorker(['client', spec.id], profile('client'));
    const [ready, loaded] = await Promise.all([nextMessage(server, START_TIMEOUT, `${spec.id} server`), nextMessage(client, START_TIMEOUT, `${spec.id} client`)]);
    if (ready.type !== 'ready') throw new Error(`${spec.id} server sent '${ready.type}' instead of ready`);
    if (loaded.type !== 'loaded') throw new Error(`${spec.id} client sent '${loaded.type}' instead of loaded`);
    phase('server ready');

    const env: ClientEnv = { address: ready.address, natsUrl: nats?.url, concurrency };
    const load: LoadOptions = { concurrency, warmupMs: settings.warmupMs, durationMs: settings.durationMs, maxCalls: 50_000_000 };
    const brokerCpuAtStart = nats?.cpuUs();
    client.send({ type: 'start', env, load } satisfies RunnerMessage);
    const timeout = START_TIMEOUT + settings.warmupMs + settings.durationMs + 30_000;
    const answer = await nextMessage(client, timeout, `${spec.id} client`);
    if (answer.type !== 'result') throw new Error(`${spec.id} client sent '${answer.type}' instead of its result`);
    const brokerCpuAtEnd = nats?.cpuUs();
    rss.client = mib(answer.maxRssKb);
    phase('client result');

    server.send({ type: 'stop' } satisfies RunnerMessage);
    const stopped = await nextMessage(server, 5000, `${spec.id} server`).catch(() => undefined);
    const result = answer.result;
    const perCall = (us: number): number => Math.round((us / Math.max(1, result.totalCalls)) * 10) / 10;
    const cpuUsPerCall: RowResult['cpuUsPerCall'] = { client: perCall(result.cpuUs) };
    if (brokerCpuAtStart !== undefined && brokerCpuAtEnd !== undefined) cpuUsPerCall.broker = perCall(brokerCpuAtEnd - brokerCpuAtStart);
    if (stopped?.type === 'stopped') {
      rss.server = mib(stopped.maxRssKb);
      cpuUsPerCall.server = perCall(stopped.cpuUs);
    }
    phase('server stopped');

    const problems = [
      result.errors > 0 ? `${result.errors} failed calls (first: ${result.firstError})` : '',
      result.mismatches > 0 ? `${result.mismatches} replies differed from their request (first: ${result.firstError})` : '',
    ].filter(Boolean);
    return {
      ...base,
      status: result.calls > 0 && result.mismatches === 0 ? 'ok' : 'failed',
      note: problems.join('; ') || undefined,
      load: result,
      rss,
      cpuUsPerCall,
      loadavg: Math.round(os.loadavg()[0]! * 100) / 100,
    };
  } catch (error) {
    return { ...base, status: 'failed', note: error instanceof Error ? error.message.split('\n').slice(0, 3).join(' | ') : String(error), rss };
  } finally {
    // Both sides have reported (or failed): a graceful close is not part of the measurement.
    // Profiled workers are let exit by themselves (within 5 s), or their profile is lost.
    const grace = settings.profileDir === undefined ? 0 : 5000;
    if (client) await exited(client, grace);
    if (server) await exited(server, grace);
    if (nats) rss.broker = mib(await nats.stop());
    phase('all exited');
  }
}

function mib(kb: number | undefined): number | undefined {
  return kb === undefined ? undefined : Math.round((kb / 1024) * 10) / 10;
}
