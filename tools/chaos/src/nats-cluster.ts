/**
 * A 3-node nats-server cluster on free loopback ports: each node has a client port, a route port
 * (routes to the other two, one cluster name), a monitoring port, and JetStream with its own
 * store dir and server name, so the three form a JetStream cluster (the KV registry needs one).
 * A node can be killed (-9) and started again on the same ports and store; every node is ended by
 * its pid. Never the machine's shared NATS on 4222.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, NatsServer } from './nats-server.js';

interface Healthz {
  status: string;
  error?: string;
}
interface Routez {
  routes?: { remote_id: string }[];
}
interface Connz {
  connections?: { name?: string; subscriptions_list?: string[] }[];
}
interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number };
}

/** What one node says of the cluster, from its monitoring port. */
export interface NodeView {
  name: string;
  healthy: boolean;
  /** Nodes it has a route to. */
  routes: number;
  /** The JetStream meta leader it knows, if any. */
  leader: string | undefined;
  /** Why it is not healthy, as the node says. */
  error?: string;
}

export class NatsCluster {
  private constructor(
    readonly nodes: readonly NatsServer[],
    private readonly dir: string,
  ) {}

  /** Starts `size` nodes and waits until they are one cluster with a JetStream meta leader. */
  static async start(size = 3, name = 'svc-test'): Promise<NatsCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'svc-nats-cluster-'));
    const ports = await distinctFreePorts(size * 3);
    const routePort = (i: number): number => ports[size + i]!;
    const nodes: NatsServer[] = [];
    const cluster = new NatsCluster(nodes, dir);
    try {
      for (let i = 0; i < size; i++) {
        const others = Array.from({ length: size }, (_, j) => j).filter((j) => j !== i);
        nodes.push(
          await NatsServer.start({
            port: ports[i]!,
            name: `node-${i}`,
            storeDir: join(dir, `node-${i}`),
            monitorPort: ports[2 * size + i]!,
            cluster: { name, port: routePort(i), routes: others.map(routePort) },
          }),
        );
      }
      await cluster.ready();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Every node's client URL, in node order. */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** The URLs with node i's first: how a process near node i is configured (nats.js tries them in order). */
  urlsFrom(i: number): string[] {
    return [this.nodes[i]!.url, ...this.urls.filter((_, j) => j !== i)];
  }

  /** kill -9 of node i: its clients' sockets drop, its routes go, JetStream loses a peer. */
  async kill(i: number): Promise<void> {
    await this.nodes[i]!.kill();
  }

  /** Starts node i again on its ports and store, and waits until the cluster has healed. */
  async restart(i: number, timeoutMs = 15_000): Promise<void> {
    await this.nodes[i]!.start();
    await this.ready(timeoutMs);
  }

  /** The client connections node i holds now: each one's name and subjects (empty when it is down). */
  async connections(i: number): Promise<{ name: string; subscriptions: string[] }[]> {
    const node = this.nodes[i]!;
    if (!node.running) return [];
    const connz = await node.monitor<Connz>('/connz?subs=1&limit=1024');
    return (connz?.connections ?? []).map((c) => ({ name: c.name ?? '', subscriptions: c.subscriptions_list ?? [] }));
  }

  /** What every running node says of the cluster now. */
  async views(): Promise<NodeView[]> {
    return Promise.all(this.nodes.filter((n) => n.running).map((n) => viewOf(n)));
  }

  /**
   * Resolves once every running node is healthy (/healthz: JetStream current with its meta
   * leader), has a route to every other running node, and all agree on one meta leader.
   */
  async ready(timeoutMs = 15_000): Promise<NodeView[]> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const views = await this.views();
      const running = views.length;
      const leaders = new Set(views.map((v) => v.leader));
      if (views.every((v) => v.healthy && v.routes >= running - 1) && leaders.size === 1 && !leaders.has(undefined)) return views;
      if (Date.now() > until) throw new Error(`the NATS cluster did not become ready within ${timeoutMs} ms: ${JSON.stringify(views)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Kills every node by its pid and removes the stores. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function viewOf(node: NatsServer): Promise<NodeView> {
  const [health, routez, jsz] = await Promise.all([node.monitor<Healthz>('/healthz'), node.monitor<Routez>('/routez'), node.monitor<Jsz>('/jsz')]);
  const view: NodeView = {
    name: node.options.name ?? node.url,
    healthy: health?.status === 'ok',
    // One route per peer; a pair may briefly hold two while they connect to each other.
    routes: new Set((routez?.routes ?? []).map((r) => r.remote_id)).size,
    leader: jsz?.meta_cluster?.leader,
  };
  if (health?.error !== undefined) view.error = health.error;
  return view;
}

/** `n` ports that were free a moment ago, none twice. */
async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < n && tries < n * 10; tries++) ports.add(await freePort());
  if (ports.size < n) throw new Error(`found only ${ports.size} free ports of ${n}`);
  return [...ports];
}
