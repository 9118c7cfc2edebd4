import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../src/testing/index.js';
import { checkHealth, Client, Method, outlierEjection, roundRobin, Server, Service, inproc, silentLogger, staticRegistry, type ServiceNode } from '../src/index.js';

// outlierEjection's heartbeats: a node whose health service stops saying SERVING is set aside
// after `misses` heartbeats in a row, before any call fails on it.

@Service('Where')
class Where {
  runs = 0;
  constructor(readonly name: string) {}
  @Method()
  async get(): Promise<string> {
    this.runs++;
    return this.name;
  }
}

let stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

async function cluster(n: number) {
  const transport = inproc();
  const servers: Server[] = [];
  const services: Where[] = [];
  const addresses: string[] = [];
  for (let i = 0; i < n; i++) {
    const where = new Where(`n${i}`);
    const server = new Server({ transport, logger: silentLogger }).register(where);
    addresses.push(await server.listen(`inproc://hb-${i}-${Math.random()}`));
    servers.push(server);
    services.push(where);
    stops.push(() => server.close({ drainTimeout: 100 }));
  }
  return { transport, servers, services, addresses };
}

describe('outlierEjection with heartbeats', () => {
  it('sets aside a node that stops answering SERVING, before a call fails on it, and takes it back after its period', async () => {
    const { transport, servers, services, addresses } = await cluster(3);
    let checks = 0;
    let client: Client | undefined;
    const check = async (node: ServiceNode): Promise<boolean> => {
      checks++;
      return (await checkHealth(client!, node.address, '', { timeout: 200 })) === 'SERVING';
    };
    const selector = outlierEjection(roundRobin(), { baseEjectionMs: 300, heartbeat: { check, everyMs: 20, misses: 3 } });
    stops.push(() => selector.close());
    client = new Client({ transport, registry: staticRegistry({ Where: addresses }), selector });
    stops.push(() => client!.close());
    for (let i = 0; i < 30; i++) await client.invoke('Where', 'get', {});
    expect(services.map((s) => s.runs)).toEqual([10, 10, 10]);

    // n1 says NOT_SERVING (its calls would still succeed): after three missed heartbeats it gets no calls.
    servers[1]!.health.set('', 'NOT_SERVING');
    await until(() => checks > 15, 2_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = services.map((s) => s.runs);
    for (let i = 0; i < 30; i++) await client.invoke('Where', 'get', {});
    expect(services[1]!.runs - before[1]!).toBe(0);
    expect(services[0]!.runs + services[2]!.runs - before[0]! - before[2]!).toBe(30);

    // Well again: once its ejection is over, a call probes it and it is back in the rotation.
    servers[1]!.health.set('', 'SERVING');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const again = services[1]!.runs;
    for (let i = 0; i < 30; i++) await client.invoke('Where', 'get', {});
    expect(services[1]!.runs - again).toBeGreaterThanOrEqual(5);
  });

  it('close() stops the heartbeats', async () => {
    const { transport, addresses } = await cluster(2);
    let checks = 0;
    const selector = outlierEjection(roundRobin(), { heartbeat: { check: async () => (checks++, true), everyMs: 10 } });
    const client = new Client({ transport, registry: staticRegistry({ Where: addresses }), selector });
    stops.push(() => client.close());
    await client.invoke('Where', 'get', {});
    await until(() => checks >= 4, 2_000);
    selector.close();
    const stopped = checks;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(checks).toBe(stopped);
  });

  it('a check that throws, rejects or hangs is a missed heartbeat, not a crash', async () => {
    const { transport, services, addresses } = await cluster(2);
    const bad = addresses[0]!;
    const check = (node: ServiceNode): Promise<boolean> => {
      if (node.address !== bad) return Promise.resolve(true);
      return new Promise(() => {}); // never answers: the timeout makes it a miss
    };
    const selector = outlierEjection(roundRobin(), { heartbeat: { check, everyMs: 15, misses: 2, timeoutMs: 15 } });
    stops.push(() => selector.close());
    const client = new Client({ transport, registry: staticRegistry({ Where: addresses }), selector });
    stops.push(() => client.close());
    await client.invoke('Where', 'get', {});
    await new Promise((resolve) => setTimeout(resolve, 150));
    const before = services[0]!.runs;
    for (let i = 0; i < 20; i++) await client.invoke('Where', 'get', {});
    expect(services[0]!.runs).toBe(before);
    expect(() => outlierEjection(roundRobin(), { heartbeat: { check: 'no' as never } })).toThrow(/check must be a function/);
  });
});
