import { afterEach, describe, expect, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, inproc, staticRegistry, type ClientOptions, type ServiceNode } from '../src/index.js';

@Service('Shop', { version: '1.0.0' })
class Shop {
  constructor(readonly name: string) {}
  @Method({ idempotent: true })
  async who(): Promise<string> {
    return this.name;
  }
}

const transport = inproc();
let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

/** Three nodes: eu 1.2.0, eu 2.0.0, us 1.3.0; each answers its name. */
async function shop(): Promise<ServiceNode[]> {
  const nodes: ServiceNode[] = [];
  for (const [name, version, zone] of [['eu1', '1.2.0', 'eu'], ['eu2', '2.0.0', 'eu'], ['us1', '1.3.0', 'us']] as const) {
    const server = new Server({ transport }).register(new Shop(name));
    const address = await server.listen(`inproc://route-${name}-${Math.random()}`);
    stops.push(() => server.close({ drainTimeout: 100 }));
    nodes.push({ address, version, tags: { zone } });
  }
  return nodes;
}

async function whoAnswers(client: Client, times: number, options: Parameters<Client['invoke']>[3] = {}): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < times; i++) seen.add((await client.invoke('Shop', 'who', {}, options)) as string);
  return [...seen].sort();
}

function client(nodes: ServiceNode[], options: Partial<ClientOptions> = {}): Client {
  const c = new Client({ transport, registry: staticRegistry({ Shop: nodes }), ...options });
  stops.push(() => c.close());
  return c;
}

describe('tag and version routing', () => {
  it('per client: only nodes with the tags are called', async () => {
    expect(await whoAnswers(client(await shop(), { route: { tags: { zone: 'eu' } } }), 20)).toEqual(['eu1', 'eu2']);
  });

  it('per service, with a semver range, on the runner path too (failover)', async () => {
    const nodes = await shop();
    const c = client(nodes, { failMode: 'failover', services: { Shop: { route: { version: '^1.2.0' } } } });
    expect(await whoAnswers(c, 20)).toEqual(['eu1', 'us1']);
  });

  it('per call, over the client route field by field', async () => {
    const c = client(await shop(), { route: { tags: { zone: 'eu' } } });
    expect(await whoAnswers(c, 10, { route: { version: '>=2' } })).toEqual(['eu2']);
    expect(await whoAnswers(c, 10, { route: { tags: { zone: 'us' } } })).toEqual(['us1']);
    // Calls without a route keep the client's.
    expect(await whoAnswers(c, 10)).toEqual(['eu1', 'eu2']);
  });

  it('a retry stays within the route', async () => {
    const nodes = await shop();
    // The eu 2.0.0 node is gone: failover retries only among the eu nodes, never us1.
    const dead = { ...nodes[1]!, address: 'inproc://route-nobody' };
    const c = client([nodes[0]!, dead, nodes[2]!], { failMode: 'failover', route: { tags: { zone: 'eu' } } });
    expect(await whoAnswers(c, 20)).toEqual(['eu1']);
  });

  it('fails with UNAVAILABLE not_sent naming what was asked and what exists', async () => {
    const c = client(await shop());
    const error = (await c.invoke('Shop', 'who', {}, { route: { version: '^3.0.0', tags: { zone: 'ap' } } }).catch((e: unknown) => e)) as RpcError;
    expect(error).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
    expect(error.message).toContain("no node of service 'Shop' matches version ^3.0.0 and tags zone=ap");
    expect(error.message).toContain('3 node(s); versions: 1.2.0, 1.3.0, 2.0.0; tags: zone=eu, zone=us');
    // The same on the runner path.
    await expect(c.invoke('Shop', 'who', {}, { failMode: 'failover', route: { version: '^3.0.0' } })).rejects.toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent', message: expect.stringContaining('matches version ^3.0.0') });
  });

  it("falls back to every node with onNoMatch: 'any'", async () => {
    const c = client(await shop(), { route: { tags: { zone: 'ap' }, onNoMatch: 'any' } });
    expect(await whoAnswers(c, 30)).toEqual(['eu1', 'eu2', 'us1']);
  });

  it('nodes without a version or tags match no constraint on them', async () => {
    const nodes = (await shop()).map((n) => ({ address: n.address }));
    const c = client(nodes);
    await expect(c.invoke('Shop', 'who', {}, { route: { version: '*' } })).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('versions: none') });
    await expect(c.invoke('Shop', 'who', {}, { route: { tags: { zone: 'eu' } } })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('refuses a range semver cannot read: at construction for the client, as a rejection for a call', async () => {
    const nodes = await shop();
    expect(() => client(nodes, { route: { version: 'not a range!' } })).toThrow(/route: version 'not a range!' is not a semver range/);
    expect(() => client(nodes, { services: { Shop: { route: { tags: { zone: 3 as never } } } } })).toThrow(/route: tag 'zone' is number, not a string/);
    await expect(client(nodes).invoke('Shop', 'who', {}, { route: { version: '>>>' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', progress: 'not_sent' });
  });

  it('a pinned address ignores the route', async () => {
    const nodes = await shop();
    const c = client(nodes, { route: { tags: { zone: 'eu' } } });
    expect(await c.invoke('Shop', 'who', {}, { address: nodes[2]!.address })).toBe('us1');
  });
});
