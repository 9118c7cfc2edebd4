/** Child processes for the runner: forked workers, a private nats-server, free ports, peak RSS. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { WorkerMessage } from './worker.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
export const NATS_SERVER = process.env['NATS_SERVER'] ?? '/usr/sbin/nats-server';

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Every child still running, so that an interrupted run stops them all by pid. */
const live = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    for (const child of live) killByPid(child);
    process.exit(130);
  });
}

/**
 * Forks dist/worker.js. With `profile`, the worker writes a V8 CPU profile named `profile.name`
 * into `profile.dir` when it exits (so it must be let exit, not killed).
 */
export function forkWorker(args: string[], profile?: { dir: string; name: string }): ChildProcess {
  const execArgv = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile.dir}`, `--cpu-prof-name=${profile.name}.cpuprofile`] : [];
  // BENCH_NODE_ARGS='--trace-gc' and the like: V8 flags that NODE_OPTIONS does not accept.
  execArgv.push(...(process.env['BENCH_NODE_ARGS']?.split(/\s+/).filter(Boolean) ?? []));
  return track(fork(WORKER, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv }));
}

/** The next IPC message from a worker, or a rejection when it exits or the time is up. */
export function nextMessage(child: ChildProcess, timeoutMs: number, what: string): Promise<WorkerMessage> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: WorkerMessage): void => {
      done();
      if (message.type === 'failed') reject(new Error(`${what} failed: ${message.error}`));
      else resolve(message);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(new Error(`${what} exited (${signal ?? `code ${code}`}) before answering`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what} gave no answer within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    child.on('message', onMessage).on('exit', onExit);
  });
}

/** Kills one child by its pid (SIGKILL) unless it has already exited. */
export function killByPid(child: ChildProcess | undefined): void {
  if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Waits for a child to exit, killing it by pid after `ms`. */
export function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => killByPid(child), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Peak resident set of a live process in KiB, from /proc (VmHWM). */
export function peakRssKb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface NatsServer {
  readonly url: string;
  readonly process: ChildProcess;
  /** CPU time (user + system) it has spent so far, in microseconds; undefined off Linux. */
  cpuUs(): number | undefined;
  /** Reads its peak RSS, stops it by pid (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<number | undefined>;
}

/** Clock ticks per second of /proc/<pid>/stat: USER_HZ, 100 on every Linux this runs on. */
const USER_HZ = 100;

/** CPU time of a live process in microseconds, from /proc (utime + stime). */
export function processCpuUs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** A private nats-server on a free loopback port, never the shared one on 4222. */
export async function startNats(): Promise<NatsServer> {
  const port = await freePort();
  const child = track(spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '--no_advertise'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited at start: ${stderr}`);
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      killByPid(child);
      throw new Error(`nats-server did not accept connections on ${port} within 10 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    process: child,
    cpuUs: () => processCpuUs(child.pid),
    async stop() {
      const rss = peakRssKb(child.pid);
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      await exited(child, 3000);
      return rss;
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
