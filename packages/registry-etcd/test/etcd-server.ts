import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
});

interface Member {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
}

/**
 * A real etcd for one test file: every member on free loopback ports with a temp data dir,
 * stopped by its pid. `kill(i)` (SIGKILL) and `start(i)` again on the same ports and data dir are
 * a crash and a restart. Never touches any other etcd on the machine.
 */
export class EtcdCluster {
  private readonly children: (ChildProcess | undefined)[];
  private readonly logs: string[];

  private constructor(private readonly members: readonly Member[]) {
    this.children = members.map(() => undefined);
    this.logs = members.map(() => '');
  }

  /** `size` members (1 or 3) started and serving. */
  static async start(size = 1): Promise<EtcdCluster> {
    const members: Member[] = [];
    for (let i = 0; i < size; i++) members.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort(), dataDir: mkdtempSync(join(tmpdir(), 'svc-etcd-')) });
    const cluster = new EtcdCluster(members);
    await Promise.all(members.map((_, i) => cluster.start(i)));
    return cluster;
  }

  /** The client URLs of every member. */
  get hosts(): string[] {
    return this.members.map((m) => `http://127.0.0.1:${m.clientPort}`);
  }

  host(i: number): string {
    return this.hosts[i]!;
  }

  pid(i: number): number | undefined {
    return this.children[i]?.pid;
  }

  running(i: number): boolean {
    const child = this.children[i];
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Starts member i (again) and resolves once it accepts client connections. */
  async start(i: number): Promise<void> {
    if (this.running(i)) throw new Error(`etcd member ${i} is already running`);
    const m = this.members[i]!;
    const peers = this.members.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(',');
    const client = `http://127.0.0.1:${m.clientPort}`;
    const peer = `http://127.0.0.1:${m.peerPort}`;
    const args = [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', peers, '--initial-cluster-state', 'new', '--initial-cluster-token', `svc-test-${this.members[0]!.clientPort}`,
      // Quick elections: a killed leader is replaced within a second or so.
      '--heartbeat-interval', '50', '--election-timeout', '500',
      '--log-level', 'error', '--logger', 'zap',
    ];
    const child = spawn(ETCD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children[i] = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    const keep = (chunk: Buffer): void => void (this.logs[i] = (this.logs[i]! + chunk.toString()).slice(-8000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`etcd ${m.name} exited (${code}) while starting:\n${this.logs[i]}`))));
    exited.catch(() => {});
    await Promise.race([waitForPort(m.clientPort, 15_000), exited]);
  }

  /** SIGKILL member i: a crash. Resolves once it has exited. */
  async kill(i: number): Promise<void> {
    const child = this.children[i];
    if (child === undefined || !this.running(i)) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid!, 'SIGKILL');
    await gone;
    this.children[i] = undefined;
  }

  /** Stops every member and removes the data dirs. */
  async dispose(): Promise<void> {
    await Promise.all(this.members.map((_, i) => this.kill(i)));
    for (const m of this.members) rmSync(m.dataDir, { recursive: true, force: true });
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
  throw new Error(`etcd did not open port ${port} within ${timeoutMs} ms`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true, at most `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
