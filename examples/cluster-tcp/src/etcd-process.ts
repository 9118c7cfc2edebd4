// A private etcd for the demo: one member on free loopback ports with a temp data dir, stopped by
// its pid (and its data dir removed) by stop(), or by the exit handler if the demo dies first.
// Never touches any other etcd on the machine. The same way packages/registry-etcd's tests start
// theirs (test/etcd-server.ts, which that package does not export).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

export class EtcdProcess {
  private constructor(
    /** The client URL, http://127.0.0.1:<port>. */
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dataDir: string,
  ) {
    process.once('exit', () => this.stopNow());
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Starts etcd and resolves once it answers /health (it has a leader and serves requests). */
  static async start(): Promise<EtcdProcess> {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const dataDir = mkdtempSync(join(tmpdir(), 'svc-cluster-tcp-etcd-'));
    const url = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const args = [
      '--name', 'demo', '--data-dir', dataDir,
      '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `demo=${peer}`, '--initial-cluster-state', 'new',
      // A quick first election: one member is its own leader within a fraction of a second.
      '--heartbeat-interval', '50', '--election-timeout', '500',
      '--log-level', 'error', '--logger', 'zap',
    ];
    let child: ChildProcess;
    try {
      child = spawn(ETCD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      rmSync(dataDir, { recursive: true, force: true });
      throw error;
    }
    let log = '';
    const keep = (chunk: Buffer): void => void (log = (log + chunk.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const etcd = new EtcdProcess(url, child, dataDir);
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (error) => reject(new Error(`cannot run ${ETCD_BIN} (${error.message}): install etcd (tools/scripts/setup.sh), set ETCD_BIN, or give ETCD_ENDPOINTS of a running etcd`)));
      child.once('exit', (code, signal) => reject(new Error(`etcd exited (${signal ?? code}) while starting:\n${log}`)));
    });
    failed.catch(() => {});
    try {
      await Promise.race([healthy(url, 15_000), failed]);
    } catch (error) {
      await etcd.stop();
      throw error;
    }
    return etcd;
  }

  /** SIGKILL by pid, waits for the exit, removes the data dir. */
  async stop(): Promise<void> {
    if (this.running) {
      const gone = new Promise((resolve) => this.child.once('exit', resolve));
      process.kill(this.child.pid!, 'SIGKILL');
      await gone;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private get running(): boolean {
    return this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The same, synchronously, for the exit handler. */
  private stopNow(): void {
    try {
      if (this.running) process.kill(this.child.pid!, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Polls etcd's /health until it says {"health":"true"}, at most `timeoutMs`. */
async function healthy(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok && ((await response.json()) as { health?: string }).health === 'true') return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`etcd at ${url} was not healthy within ${timeoutMs} ms`);
}
