/**
 * A private nats-server on a free loopback port (never the machine's shared one on 4222), ended
 * by its pid. `kill()` then `start()` again is a crash and a restart on the same ports (and the
 * same JetStream store). With options it is one node of a cluster (nats-cluster.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

export const NATS_SERVER_BIN = process.env['NATS_SERVER_BIN'] ?? '/usr/sbin/nats-server';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
});

export interface NatsServerOptions {
  /** Client port; default: a free one. */
  port?: number;
  /** server_name: every node of a JetStream cluster needs its own. */
  name?: string;
  /** JetStream on, its store in this directory (kept across kill and start: a restart finds its streams). */
  storeDir?: string;
  /** HTTP monitoring port, for /healthz, /jsz and /routez. */
  monitorPort?: number;
  /** One node of a cluster: its route port, the cluster's name and the other nodes' route ports. */
  cluster?: { name: string; port: number; routes: readonly number[] };
}

export class NatsServer {
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly port: number,
    readonly options: NatsServerOptions,
  ) {}

  /** Starts a nats-server; without options a lone one on a free port, no JetStream. */
  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const server = new NatsServer(options.port ?? (await freePort()), options);
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

  /** The last few KB it logged, for a failed expectation. */
  get recentLog(): string {
    return this.log;
  }

  /** Starts it (again) on its port and resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.child) throw new Error('nats-server is already running');
    const child = spawn(NATS_SERVER_BIN, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    const keep = (chunk: Buffer): void => void (this.log = (this.log + chunk.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const until = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null) {
        this.child = undefined;
        throw new Error(`nats-server exited while starting:\n${this.log}`);
      }
      if (Date.now() > until) throw new Error(`nats-server did not accept connections on ${this.port} within 10 s:\n${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private args(): string[] {
    const o = this.options;
    // --no_advertise: clients know only the URLs they are given, not what the cluster gossips.
    const args = ['-a', '127.0.0.1', '-p', String(this.port), '--no_advertise'];
    if (o.name !== undefined) args.push('-n', o.name);
    if (o.storeDir !== undefined) args.push('-js', '-sd', o.storeDir);
    if (o.monitorPort !== undefined) args.push('-m', String(o.monitorPort));
    if (o.cluster !== undefined) {
      args.push('--cluster_name', o.cluster.name, '--cluster', `nats://127.0.0.1:${o.cluster.port}`);
      if (o.cluster.routes.length > 0) args.push('--routes', o.cluster.routes.map((p) => `nats://127.0.0.1:${p}`).join(','));
    }
    return args;
  }

  /** kill -9: a crash, no goodbye to its clients. Resolves once it has exited. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid!, 'SIGKILL');
    await gone;
  }

  /** GET on its monitoring port (`/jsz`, `/routez`, `/healthz`), as JSON; undefined when it does not answer. */
  async monitor<T>(path: string): Promise<T | undefined> {
    if (this.options.monitorPort === undefined) throw new Error('this nats-server has no monitoring port');
    try {
      const response = await fetch(`http://127.0.0.1:${this.options.monitorPort}${path}`, { signal: AbortSignal.timeout(1_000) });
      return (await response.json()) as T;
    } catch {
      return undefined;
    }
  }

  /** Resident set size in bytes, from /proc, or undefined when not running. */
  rss(): number | undefined {
    if (this.child?.pid === undefined) return undefined;
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
      return match ? Number(match[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }
}

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
