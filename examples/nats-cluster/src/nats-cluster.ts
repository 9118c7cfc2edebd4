// The demo's own 3-node NATS cluster (Debian package nats-server), on free loopback ports: each
// node has a client port, a route port (routes to the two others, one cluster name), a
// monitoring port, and JetStream with a store dir and a server name of its own, so that the three
// form one JetStream cluster (the KV registry needs JetStream). Nodes are ended by their pids.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NodeHealth {
  name: string;
  /** /healthz: up, and JetStream current with its meta leader. */
  healthy: boolean;
  /** Nodes it has a route to. */
  routes: number;
  /** The JetStream meta leader it knows. */
  leader: string | undefined;
}

class Node {
  child: ChildProcess | undefined;
  /** Why it could not be started (no nats-server at `bin`). */
  startError: Error | undefined;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly args: string[],
    private readonly bin: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    this.child = spawn(this.bin, this.args, { stdio: 'ignore' });
    this.child.once('error', (error) => (this.startError = error));
  }

  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid!, 'SIGKILL');
    await gone;
  }

  async get<T>(path: string, monitorPort: number): Promise<T | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${monitorPort}${path}`, { signal: AbortSignal.timeout(1_000) });
      return (await response.json()) as T;
    } catch {
      return undefined;
    }
  }
}

export class NatsCluster {
  private constructor(
    private readonly nodes: Node[],
    private readonly monitorPorts: number[],
    private readonly dir: string,
  ) {}

  static async start(size = 3, bin = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server'): Promise<NatsCluster> {
    const ports = new Set<number>();
    while (ports.size < size * 3) ports.add(await freePort());
    const [client, route, monitor] = [0, 1, 2].map((k) => [...ports].slice(k * size, (k + 1) * size));
    const dir = mkdtempSync(join(tmpdir(), 'svc-demo-nats-'));
    const nodes = client!.map((port, i) => {
      const routes = route!.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`);
      const args = ['-a', '127.0.0.1', '-p', String(port), '-n', `node-${i}`, '-m', String(monitor![i]), '-js', '-sd', join(dir, `node-${i}`)];
      args.push('--cluster_name', 'svc-demo', '--cluster', `nats://127.0.0.1:${route![i]}`, '--routes', routes.join(','));
      return new Node(`node-${i}`, port, args, bin);
    });
    const cluster = new NatsCluster(nodes, monitor!, dir);
    for (const node of nodes) node.start();
    try {
      await cluster.ready();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get size(): number {
    return this.nodes.length;
  }

  /** Every node's URL, node i's first: how a process near node i is configured (tried in order). */
  urlsFrom(i: number): string[] {
    const urls = this.nodes.map((n) => n.url);
    return [urls[i]!, ...urls.filter((_, j) => j !== i)];
  }

  nodeName(i: number): string {
    return this.nodes[i]!.name;
  }

  /** kill -9 of node i. */
  kill(i: number): Promise<void> {
    return this.nodes[i]!.kill();
  }

  /** Starts node i again on its ports and store, and waits until the cluster has healed. */
  async restart(i: number): Promise<NodeHealth[]> {
    this.nodes[i]!.start();
    return this.ready();
  }

  /** The node each named client connection is on now (the `name` it gave NATS). */
  async placement(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [i, node] of this.nodes.entries()) {
      if (!node.running) continue;
      const connz = await node.get<{ connections?: { name?: string }[] }>('/connz?limit=1024', this.monitorPorts[i]!);
      for (const c of connz?.connections ?? []) if (c.name) out.set(c.name, node.name);
    }
    return out;
  }

  /**
   * The node that holds a JetStream stream (its leader), e.g. 'KV_svc_registry', the registry
   * bucket: each node lists the streams it holds.
   */
  async streamLeader(stream: string): Promise<number | undefined> {
    for (const [i, node] of this.nodes.entries()) {
      if (!node.running) continue;
      type Jsz = { account_details?: { stream_detail?: { name: string; cluster?: { leader?: string } }[] }[] };
      const jsz = await node.get<Jsz>('/jsz?accounts=true&streams=true', this.monitorPorts[i]!);
      for (const account of jsz?.account_details ?? []) {
        const found = account.stream_detail?.find((s) => s.name === stream);
        const leader = found?.cluster?.leader ?? (found ? node.name : undefined);
        if (leader !== undefined) return this.nodes.findIndex((n) => n.name === leader);
      }
    }
    return undefined;
  }

  /** What every running node says of the cluster. */
  async health(): Promise<NodeHealth[]> {
    const running = this.nodes.map((node, i) => [node, this.monitorPorts[i]!] as const).filter(([node]) => node.running);
    return Promise.all(
      running.map(async ([node, port]) => {
        const [healthz, routez, jsz] = await Promise.all([
          node.get<{ status: string }>('/healthz', port),
          node.get<{ routes?: { remote_id: string }[] }>('/routez', port),
          node.get<{ meta_cluster?: { leader?: string } }>('/jsz', port),
        ]);
        return { name: node.name, healthy: healthz?.status === 'ok', routes: new Set((routez?.routes ?? []).map((r) => r.remote_id)).size, leader: jsz?.meta_cluster?.leader };
      }),
    );
  }

  /** Waits until every running node is healthy, routed to every other and agrees on one meta leader. */
  async ready(ms = 15_000): Promise<NodeHealth[]> {
    const until = Date.now() + ms;
    for (;;) {
      const health = await this.health();
      const leaders = new Set(health.map((h) => h.leader));
      if (health.every((h) => h.healthy && h.routes >= health.length - 1) && leaders.size === 1 && !leaders.has(undefined)) return health;
      const failed = this.nodes.find((n) => n.startError !== undefined);
      if (failed !== undefined) throw new Error(`cannot start ${failed.name}: ${failed.startError!.message} (set NATS_SERVER_BIN, or NATS_URL for a running NATS)`);
      if (Date.now() > until) throw new Error(`the NATS cluster did not become ready within ${ms} ms: ${JSON.stringify(health)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
