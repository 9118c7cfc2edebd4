import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadShedderState } from '../../src/load-shedder.js';
import type { SheddingOptions } from '../../src/load-shedding-options.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const built = fileURLToPath(new URL('../../dist/load-shedder.js', import.meta.url));

export interface Percentiles {
  n: number;
  p50?: number;
  p90?: number;
  p99?: number;
  max?: number;
}

export interface OpenLoopResult {
  sent: number;
  sentPerSecond: number;
  unanswered: number;
  /** Ticks of the generator's 1 ms timer that came more than 5 ms late (it was short of CPU). */
  lateTicks: number;
  accepted: Percentiles;
  refused: Percentiles;
  /** Calls a throttling client held back itself (RESOURCE_EXHAUSTED not_sent); n 0 without "throttle". */
  held: Percentiles;
  /** Both: every call the caller saw turned away. */
  refusedOrHeld: Percentiles;
  /** Failures other than a RESOURCE_EXHAUSTED refusal, by `code/progress`. */
  others: Record<string, number>;
  bySecond: { second: number; accepted: Percentiles; refused: number; failed: number }[];
}

/**
 * The CPU-bound server of test/fixtures/overload-server.mjs in a child process (on dist/), with a
 * load shedder or without one; stopped by its pid if it does not stop by itself.
 */
export class OverloadServer {
  readonly child: ChildProcess;
  readonly address: Promise<string>;
  private buffer = '';
  private readonly waiting: ((line: Record<string, unknown>) => void)[] = [];

  constructor(options: { workMs: number; shedder: SheddingOptions | null }) {
    if (!existsSync(built)) throw new Error(`${built} is missing: the overload server runs on the built package (pnpm build)`);
    this.child = spawn(process.execPath, [fixture('overload-server.mjs'), JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString();
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        this.waiting.shift()?.(JSON.parse(line) as Record<string, unknown>);
      }
    });
    const exited = new Promise<never>((_, reject) => this.child.once('exit', (code) => reject(new Error(`overload server exited with ${code}`))));
    exited.catch(() => {});
    this.address = Promise.race([this.next().then((line) => line.address as string), exited]);
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async state(): Promise<LoadShedderState | null> {
    const answer = this.next();
    this.child.stdin!.write(JSON.stringify({ cmd: 'state' }) + '\n');
    return (await answer).state as LoadShedderState | null;
  }

  /** Kills it at once (an overloaded server would take seconds to answer its backlog first). */
  kill(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined) return;
    process.kill(this.child.pid, 'SIGKILL');
  }
}

/** Runs the load generator (test/fixtures/overload-load.mjs) in its own process and returns what it measured. */
export function runLoad<T = OpenLoopResult>(options: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture('overload-load.mjs'), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || line === undefined) reject(new Error(`load generator exited with ${code}: ${out}`));
      else resolve(JSON.parse(line) as T);
    });
  });
}
