/**
 * Forks discovery-process.ts children (a TCP server that registers itself) and ends each by its
 * pid: kill -9 for the scenario's crash, and every one still running when the harness exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromChild } from './child-protocol.js';

const TSX = import.meta.resolve('tsx');
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Lease / record ttl of the scenario's servers: a kill -9 leaves the registry within it. */
export const DISCOVERY_TTL_MS = 2_000;

const live = new Set<ChildProcess>();
process.once('exit', killAllServers);

export function killAllServers(): void {
  for (const child of live) if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
}

export class RegisteredServer {
  private constructor(
    readonly name: string,
    readonly address: string,
    private readonly child: ChildProcess,
  ) {}

  /** Starts one and resolves once it listens and is registered ('ready'). */
  static async start(backend: 'etcd' | 'nats', registryUrl: string, name: string): Promise<RegisteredServer> {
    const child = fork(fileURLToPath(new URL('./discovery-process.ts', import.meta.url)), [backend, registryUrl, name, String(DISCOVERY_TTL_MS)], { execArgv: ['--import', TSX], cwd: PACKAGE_DIR, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} sent no 'ready' within 30 s`)), 30_000);
      child.on('message', (message: FromChild) => {
        clearTimeout(timer);
        if (message.type === 'ready') resolve(message.address);
        if (message.type === 'failed') reject(new Error(`${name} failed: ${message.error}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${signal ?? `code ${code}`}) before it was ready`));
      });
    }).catch((error: unknown) => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      throw error;
    });
    return new RegisteredServer(name, address, child);
  }

  /** kill -9 by pid, and waits until it is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((resolve) => this.child.once('exit', resolve));
    process.kill(this.child.pid!, 'SIGKILL');
    await gone;
  }
}
