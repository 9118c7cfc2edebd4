/**
 * Starts the chaos and soak processes (server-process.ts, load-process.ts) as children with an
 * IPC channel, under tsx, and keeps track of them so that each one is ended by its own pid: by a
 * scenario (kill -9, SIGSTOP, SIGCONT), at the end of a run, or when the harness exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromChild, ToChild } from './child-protocol.js';
import type { EchoCounts } from './echo-service.js';
import type { ProcessSample } from './process-sample.js';
import type { LoadCounts } from './load.js';

// `node --import tsx` runs the TypeScript entry in the child itself; tsx's CLI would add a
// grandchild that a kill -9 of the child would leave behind.
const TSX = import.meta.resolve('tsx');
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

export type Entry = 'server-process' | 'load-process';

export interface LaunchOptions {
  /** Shown in errors and tables. */
  name: string;
  /** Allow the child a full GC before each sample (the soak). */
  exposeGc?: boolean;
  /** Added to the child's environment (a server's ECHO_* settings). */
  env?: Record<string, string>;
}

const live = new Set<ChildProcess>();

// Whatever happens to the harness, no child it started outlives it.
process.once('exit', killAll);

/** SIGKILLs every child still running, each by its pid. */
export function killAll(): void {
  for (const child of live) signalPid(child, 'SIGKILL');
}

function signalPid(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    // already gone
  }
}

export class ChildHandle {
  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    /** What the child said it listens on (a server) or '' (a load process). */
    readonly address: string,
  ) {}

  static async launch(entry: Entry, args: readonly string[], options: LaunchOptions): Promise<ChildHandle> {
    const execArgv = ['--import', TSX, ...(options.exposeGc ? ['--expose-gc'] : [])];
    const child = fork(fileURLToPath(new URL(`./${entry}.ts`, import.meta.url)), [...args], {
      execArgv,
      cwd: PACKAGE_DIR,
      ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    try {
      const ready = await nextMessage(child, 'ready', READY_TIMEOUT_MS, options.name);
      return new ChildHandle(options.name, child, ready.address);
    } catch (error) {
      signalPid(child, 'SIGKILL');
      throw error;
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends a signal to this child's pid: SIGSTOP and SIGCONT for a pause. */
  signal(signal: NodeJS.Signals): void {
    signalPid(this.child, signal);
  }

  /** kill -9, and waits until it is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    const gone = new Promise((resolve) => this.child.once('exit', resolve));
    signalPid(this.child, 'SIGKILL');
    await gone;
  }

  /** Asks it to close gracefully (a 'stop' message, or SIGTERM); kill -9 if it has not exited within `ms`. */
  async stop(how: 'message' | 'SIGTERM' = 'message', ms = 5_000): Promise<void> {
    if (!this.running) return;
    const gone = new Promise((resolve) => this.child.once('exit', resolve));
    const timer = setTimeout(() => signalPid(this.child, 'SIGKILL'), ms);
    if (how === 'SIGTERM') signalPid(this.child, 'SIGTERM');
    else this.post({ type: 'stop' });
    await gone;
    clearTimeout(timer);
  }

  /** Its memory and handles, and for a load process its call counts. */
  async sample(timeoutMs = 10_000): Promise<{ sample: ProcessSample; load?: LoadCounts }> {
    const answer = nextMessage(this.child, 'sample', timeoutMs, this.name);
    this.post({ type: 'sample' });
    return answer;
  }

  /** A server's Echo runs so far, by method. */
  async counts(timeoutMs = 10_000): Promise<EchoCounts> {
    const answer = nextMessage(this.child, 'counts', timeoutMs, this.name);
    this.post({ type: 'counts' });
    return (await answer).counts;
  }

  private post(message: ToChild): void {
    if (this.child.connected) this.child.send(message);
  }
}

/** The next message of a type from a child, or a rejection when it fails, exits or the time is up. */
function nextMessage<T extends FromChild['type']>(child: ChildProcess, type: T, timeoutMs: number, name: string): Promise<Extract<FromChild, { type: T }>> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: FromChild): void => {
      if (message.type === 'failed') {
        done();
        reject(new Error(`${name} failed: ${message.error}`));
      } else if (message.type === type) {
        done();
        resolve(message as Extract<FromChild, { type: T }>);
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(new Error(`${name} exited (${signal ?? `code ${code}`}) before its '${type}' message`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${name} sent no '${type}' message within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage).on('exit', onExit);
  });
}
