/** The selectors of issue 15 behind a real Client and Servers (in-process): what the runner reports reaches them. */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, consistentHash, keyFromMetadata, Method, outlierEjection, peakEwma, roundRobin, RpcError, Server, Service, inproc, silentLogger, staticRegistry, weightedRoundRobin, type Selector, type ServiceNode } from '../src/index.js';

@Service('Where')
class Where {
  runs = 0;
  constructor(
    readonly name: string,
    readonly behaviour: { delayMs?: number; fail?: boolean },
  ) {}

  @Method({ idempotent: true })
  async get(): Promise<string> {
    this.runs++;
    if (this.behaviour.delayMs) await new Promise((r) => setTimeout(r, this.behaviour.delayMs));
    if (this.behaviour.fail) throw new RpcError('UNAVAILABLE', 'this node is unwell');
    return this.name;
  }
}

let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

async function cluster(behaviours: { delayMs?: number; fail?: boolean; weight?: number }[], selector: Selector, failMode: 'failfast' | 'failover' = 'failfast') {
  const transport = inproc();
  const services: Where[] = [];
  const nodes: ServiceNode[] = [];
  for (const [i, b] of behaviours.entries()) {
    const where = new Where(`n${i}`, b);
    const server = new Server({ transport, logger: silentLogger }).register(where);
    const address = await server.listen(`inproc://sel-${i}-${Math.random()}`);
    nodes.push({ address, ...(b.weight === undefined ? {} : { weight: b.weight }) });
    services.push(where);
    stops.push(() => server.close({ drainTimeout: 100 }));
  }
  // Idempotency comes from schemas or settings, not the decorator; no budget: every failure of a test may be retried.
  const client = new Client({ transport, registry: staticRegistry({ Where: nodes }), selector, failMode, retryBudget: false, services: { Where: { methods: { get: { idempotent: true } } } } });
  stops.push(() => client.close());
  return { client, services, runs: () => services.map((s) => s.runs) };
}

async function callMany(client: Client, n: number, concurrency: number, metadata?: Record<string, string>): Promise<{ ok: number; failed: number; answers: string[] }> {
  let ok = 0;
  let failed = 0;
  const answers: string[] = [];
  let left = n;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) {
        try {
          answers.push(await client.invoke<string>('Where', 'get', {}, metadata ? { metadata } : {}));
          ok++;
        } catch {
          failed++;
        }
      }
    }),
  );
  return { ok, failed, answers };
}

describe('selectors behind a Client', () => {
  it('peakEwma learns from the runner’s reports: a node 15 ms slower gets few calls', async () => {
    const { client, runs } = await cluster([{ delayMs: 15 }, {}, {}], peakEwma());
    await callMany(client, 30, 4);
    const before = runs();
    await callMany(client, 600, 8);
    const slow = runs()[0]! - before[0]!;
    expect(slow / 600).toBeLessThan(0.1);
  });

  // Around round robin, which keeps sending the failing node its share until it is set aside (P2C
  // alone nearly stops choosing it, but not always: a fast node's stall makes it look cheaper).
  it('outlierEjection(roundRobin()) sets a failing node aside: failfast callers stop seeing its errors', async () => {
    const { client, runs } = await cluster([{ fail: true }, {}, {}], outlierEjection(roundRobin(), { consecutiveFailures: 3 }));
    await callMany(client, 60, 2);
    // Its third failure sets it aside (a fourth may already have been on its way, two callers at once).
    expect(runs()[0]).toBeGreaterThanOrEqual(3);
    expect(runs()[0]).toBeLessThanOrEqual(4);
    const before = runs();
    const { failed } = await callMany(client, 300, 4);
    expect(runs()[0]! - before[0]!).toBe(0);
    expect(failed).toBe(0);
  });

  it('weightedRoundRobin follows the registry’s weights', async () => {
    const { client, runs } = await cluster([{ weight: 1 }, { weight: 2 }, { weight: 3 }], weightedRoundRobin());
    await callMany(client, 600, 1);
    expect(runs()).toEqual([100, 200, 300]);
  });

  it('consistentHash keeps a metadata key on one node, and fails it over to one other node', async () => {
    const { client, services, runs } = await cluster([{}, {}, {}], consistentHash({ key: keyFromMetadata('tenant') }), 'failover');
    const { answers } = await callMany(client, 50, 5, { tenant: 'acme' });
    expect(new Set(answers).size).toBe(1);
    expect(runs().filter((n) => n > 0)).toHaveLength(1);
    // Its node fails: failover sends every call of the key to the same second node.
    services.find((s) => s.name === answers[0])!.behaviour.fail = true;
    const after = await callMany(client, 50, 5, { tenant: 'acme' });
    expect(after.failed).toBe(0);
    expect(new Set(after.answers).size).toBe(1);
    expect(after.answers[0]).not.toBe(answers[0]);
  });
});
