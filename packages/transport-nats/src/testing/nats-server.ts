import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/**
 * A real nats-server for one test file: on a free port, JetStream in a temp dir, stopped by its
 * pid. `kill()` (SIGKILL) and `start()` again on the same port and store dir simulate a crash and
 * a restart. `config` is nats-server configuration text (e.g. `max_payload: 4096`), written to a
 * file in the store dir. Never touches any other nats-server on the machine.
 */
export class NatsServerProcess {
  readonly port: number;
  readonly storeDir: string;
  private readonly extraArgs: readonly string[];
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(port: number, extraArgs: readonly string[], config: string | undefined) {
    this.port = port;
    this.storeDir = mkdtempSync(join(tmpdir(), 'svc-nats-'));
    if (config === undefined) this.extraArgs = extraArgs;
    else {
      const file = join(this.storeDir, 'nats-server.conf');
      writeFileSync(file, config);
      this.extraArgs = ['-c', file, ...extraArgs];
    }
  }

  static async start(extraArgs: readonly string[] = [], config?: string): Promise<NatsServerProcess> {
    const server = new NatsServerProcess(await freePort(), extraArgs, config);
    await server.start();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error('nats-server is already running');
    const child = spawn(NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir, ...this.extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (chunk: Buffer): void => {
      this.log = (this.log + chunk.toString()).slice(-8000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`nats-server exited (${code}) while starting:\n${this.log}`))));
    exited.catch(() => {});
    await Promise.race([waitForPort(this.port, 10_000), exited]);
    // JetStream is ready a moment after the port: wait for the log line.
    for (let i = 0; i < 100 && !this.log.includes('Server is ready'); i++) await sleep(50);
  }

  /** SIGKILL: a crash, no goodbye to clients. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM: a clean shutdown. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** Stops the server and removes its store. */
  async dispose(): Promise<void> {
    await this.signal('SIGKILL');
    rmSync(this.storeDir, { recursive: true, force: true });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid!, signal);
    await gone;
    this.child = undefined;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(25);
  }
  throw new Error(`nats-server did not open port ${port} within ${timeoutMs} ms`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true, at most `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
