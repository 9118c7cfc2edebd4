/**
 * The registries the discovery scenarios run on, each a private process on free loopback ports
 * with a temp data dir, ended by its pid: etcd (one member) and nats-server with JetStream (for
 * the KV registry). Never the machine's own etcd or NATS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, NATS_SERVER_BIN } from './nats-server.js';

export const ETCD_BIN = process.env['ETCD_BIN'] ?? '/usr/bin/etcd';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
});

/** A registry process: its URL, and a kill -9 that waits for the exit and removes its data. */
export class RegistryProcess {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dataDir: string,
  ) {}

  /** etcd on a free client and peer port. */
  static async etcd(): Promise<RegistryProcess> {
    const [client, peer] = [await freePort(), await freePort()];
    const dataDir = mkdtempSync(join(tmpdir(), 'svc-chaos-etcd-'));
    const clientUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const args = ['--name', 'n', '--data-dir', dataDir, '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl, '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `n=${peerUrl}`, '--log-level', 'error', '--logger', 'zap'];
    return RegistryProcess.spawn(ETCD_BIN, args, clientUrl, client, dataDir);
  }

  /** nats-server with JetStream on a free port. */
  static async jetstream(): Promise<RegistryProcess> {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'svc-chaos-js-'));
    const process = await RegistryProcess.spawn(NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dataDir], `nats://127.0.0.1:${port}`, port, dataDir);
    await new Promise((resolve) => setTimeout(resolve, 300)); // JetStream is ready a moment after the port
    return process;
  }

  private static async spawn(bin: string, args: string[], url: string, port: number, dataDir: string): Promise<RegistryProcess> {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => void (log = (log + chunk.toString()).slice(-4000)));
    const until = Date.now() + 15_000;
    while (!(await accepts(port))) {
      if (child.exitCode !== null) throw new Error(`${bin} exited while starting:\n${log}`);
      if (Date.now() > until) throw new Error(`${bin} did not accept connections on ${port} within 15 s:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return new RegistryProcess(url, child, dataDir);
  }

  async dispose(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const gone = new Promise((resolve) => this.child.once('exit', resolve));
      process.kill(this.child.pid!, 'SIGKILL');
      await gone;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
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
