import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../src/testing/index.js';
import { Client, Method, RpcError, Server, Service, inproc, memoryRegistry, staticRegistry, type Logger, type Registry, type ServiceNode } from '../src/index.js';
import { RegistryCache } from '../src/client/registry-cache.js';

@Service('Echo', { version: '1.0.0' })
class Echo {
  constructor(readonly name: string) {}
  @Method({ idempotent: true })
  async who(): Promise<string> {
    return this.name;
  }
}

/** A registry whose answers a test controls: watch deliveries, lookups that fail or stall. */
class FakeRegistry implements Registry {
  nodes = new Map<string, ServiceNode[]>();
  lookups = 0;
  watches = 0;
  unwatches = 0;
  down = false;
  stall = false;
  /** Watch deliveries are dropped (a missed event). */
  deaf = false;
  private readonly listeners = new Map<string, Set<(nodes: readonly ServiceNode[]) => void>>();

  lookup(service: string): Promise<readonly ServiceNode[]> {
    this.lookups++;
    if (this.stall) return new Promise(() => {});
    if (this.down) return Promise.reject(new RpcError('UNAVAILABLE', 'fake registry down'));
    return Promise.resolve([...(this.nodes.get(service) ?? [])]);
  }

  watch(service: string, listener: (nodes: readonly ServiceNode[]) => void): () => void {
    this.watches++;
    let set = this.listeners.get(service);
    if (!set) this.listeners.set(service, (set = new Set()));
    set.add(listener);
    if (!this.down) queueMicrotask(() => listener([...(this.nodes.get(service) ?? [])]));
    return () => {
      this.unwatches++;
      set.delete(listener);
    };
  }

  set(service: string, nodes: ServiceNode[]): void {
    this.nodes.set(service, nodes);
    if (this.deaf || this.down) return;
    for (const l of this.listeners.get(service) ?? []) l([...nodes]);
  }
}

function countingLogger(): Logger & { warns: string[]; infos: string[] } {
  const warns: string[] = [];
  const infos: string[] = [];
  return { warns, infos, debug: () => {}, info: (m) => void infos.push(m), warn: (m) => void warns.push(m), error: (m) => void warns.push(m) };
}

const transport = inproc();
let stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

async function servers(names: string[]): Promise<{ address: string; server: Server }[]> {
  const out = [];
  for (const name of names) {
    const server = new Server({ transport }).register(new Echo(name));
    const address = await server.listen(`inproc://cache-${name}-${Math.random()}`);
    stops.push(() => server.close({ drainTimeout: 100 }));
    out.push({ address, server });
  }
  return out;
}

describe('the client cache of a watching registry', () => {
  it('waits for the first list, then answers from memory, synchronously', async () => {
    const registry = new FakeRegistry();
    registry.nodes.set('Echo', [{ address: 'inproc://x' }]);
    const cache = new RegistryCache(registry, countingLogger());
    stops.push(() => cache.close());
    const first = cache.lookup('Echo');
    expect(first).toBeInstanceOf(Promise);
    expect((await first).map((n) => n.address)).toEqual(['inproc://x']);
    const second = cache.lookup('Echo');
    expect(Array.isArray(second)).toBe(true);
    expect(Object.isFrozen(second)).toBe(true);
    expect(registry.watches).toBe(1);
    const asked = registry.lookups;
    for (let i = 0; i < 100; i++) cache.lookup('Echo');
    expect(registry.lookups).toBe(asked);
  });

  it('follows the watch: a new instance gets calls, a removed one none', async () => {
    const [a, b] = await servers(['a', 'b']);
    const registry = new FakeRegistry();
    registry.set('Echo', [{ address: a!.address }]);
    const client = new Client({ transport, registry });
    stops.push(() => client.close());
    expect(await client.invoke('Echo', 'who', {})).toBe('a');
    registry.set('Echo', [{ address: a!.address }, { address: b!.address }]);
    const seen = new Set<unknown>();
    for (let i = 0; i < 10; i++) seen.add(await client.invoke('Echo', 'who', {}));
    expect([...seen].sort()).toEqual(['a', 'b']);
    registry.set('Echo', [{ address: b!.address }]);
    for (let i = 0; i < 10; i++) expect(await client.invoke('Echo', 'who', {})).toBe('b');
  });

  it('heals a missed event with the periodic full lookup', async () => {
    const [a, b] = await servers(['a', 'b']);
    const registry = new FakeRegistry();
    registry.set('Echo', [{ address: a!.address }]);
    const client = new Client({ transport, registry, registryCache: { refreshInterval: 50 } });
    stops.push(() => client.close());
    expect(await client.invoke('Echo', 'who', {})).toBe('a');
    registry.deaf = true;
    registry.set('Echo', [{ address: b!.address }]);
    const end = Date.now() + 2_000;
    let who: unknown = 'a';
    while (who !== 'b' && Date.now() < end) {
      who = await client.invoke('Echo', 'who', {});
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(who).toBe('b');
  });

  it('keeps calling the last known nodes while the registry is down, and says so once per outage', async () => {
    const [a] = await servers(['a']);
    const registry = new FakeRegistry();
    registry.set('Echo', [{ address: a!.address }]);
    const logger = countingLogger();
    const client = new Client({ transport, registry, logger, registryCache: { refreshInterval: 20 } });
    stops.push(() => client.close());
    expect(await client.invoke('Echo', 'who', {})).toBe('a');
    registry.down = true;
    const asked = registry.lookups;
    await until(() => registry.lookups >= asked + 5, 2_000);
    for (let i = 0; i < 20; i++) expect(await client.invoke('Echo', 'who', {})).toBe('a');
    expect(logger.warns).toHaveLength(1);
    expect(logger.warns[0]).toMatch(/registry: not answering \(fake registry down\).*last known nodes of 1 service/);
    registry.down = false;
    await until(() => logger.infos.length === 1, 2_000);
    expect(logger.infos[0]).toMatch(/answering again/);
    registry.down = true;
    await until(() => logger.warns.length === 2, 2_000);
  });

  it('fails the first call of a service with UNAVAILABLE not_sent when the registry is down, and serves it once it is up', async () => {
    const [a] = await servers(['a']);
    const registry = new FakeRegistry();
    registry.nodes.set('Echo', [{ address: a!.address }]);
    registry.down = true;
    const client = new Client({ transport, registry, logger: countingLogger(), failMode: 'failover' });
    stops.push(() => client.close());
    const error = await client.invoke('Echo', 'who', {}).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
    expect((error as RpcError).message).toMatch(/no instance of service 'Echo' is known yet and the registry did not answer \(fake registry down\); check that the registry is up/);
    registry.down = false;
    expect(await client.invoke('Echo', 'who', {})).toBe('a');
  });

  it('bounds a first lookup that never answers by lookupTimeout, also for calls without a deadline', async () => {
    const registry = new FakeRegistry();
    registry.stall = true;
    registry.down = true; // no watch delivery either
    const client = new Client({ transport, registry, logger: countingLogger(), timeout: 0, registryCache: { lookupTimeout: 100 } });
    stops.push(() => client.close());
    const started = Date.now();
    await expect(client.invoke('Echo', 'who', {})).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('no answer within 100 ms') });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('shares one first lookup among the calls that wait for it', async () => {
    const [a] = await servers(['a']);
    const registry = new FakeRegistry();
    registry.nodes.set('Echo', [{ address: a!.address }]);
    const client = new Client({ transport, registry });
    stops.push(() => client.close());
    const calls = Array.from({ length: 50 }, () => client.invoke('Echo', 'who', {}));
    expect(await Promise.all(calls)).toEqual(Array(50).fill('a'));
    expect(registry.lookups).toBe(1);
    expect(registry.watches).toBe(1);
  });

  it('releases the watches of services not called for a while, and follows at most maxServices', async () => {
    const registry = new FakeRegistry();
    for (let i = 0; i < 30; i++) registry.nodes.set(`S${i}`, [{ address: `inproc://s${i}` }]);
    const cache = new RegistryCache(registry, countingLogger(), { idleTimeout: 100, maxServices: 10 });
    stops.push(() => cache.close());
    for (let i = 0; i < 30; i++) await cache.lookup(`S${i}`);
    expect(cache.size).toBeLessThanOrEqual(10);
    expect(registry.unwatches).toBeGreaterThanOrEqual(20);
    await until(() => cache.size === 0, 2_000);
    expect(registry.unwatches).toBe(registry.watches);
    // Called again, a released service is followed again.
    expect((await cache.lookup('S3')).map((n) => n.address)).toEqual(['inproc://s3']);
  });

  it('keeps a service it is calling, however long', async () => {
    const registry = new FakeRegistry();
    registry.nodes.set('Busy', [{ address: 'inproc://busy' }]);
    const cache = new RegistryCache(registry, countingLogger(), { idleTimeout: 40 });
    stops.push(() => cache.close());
    await cache.lookup('Busy');
    const end = Date.now() + 300;
    while (Date.now() < end) {
      expect(Array.isArray(cache.lookup('Busy'))).toBe(true);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(registry.unwatches).toBe(0);
  });

  it('drops nodes a lying registry gives without an address, and survives a watch that throws', async () => {
    const [a] = await servers(['a']);
    const liar: Registry = {
      lookup: () => [{ address: a!.address }, { address: 42 } as never, null as never, { weight: 1 } as never, { address: '' }],
      watch: () => {
        throw new Error('no watching today');
      },
    };
    const logger = countingLogger();
    const client = new Client({ transport, registry: liar, logger });
    stops.push(() => client.close());
    for (let i = 0; i < 5; i++) expect(await client.invoke('Echo', 'who', {})).toBe('a');
    expect(logger.warns.join('\n')).toMatch(/watching 'Echo' failed \(no watching today\)/);
  });

  it('leaves a registry without watch alone: it is asked on every call, as before', async () => {
    const [a] = await servers(['a']);
    const inner = staticRegistry({ Echo: [a!.address] });
    let lookups = 0;
    const client = new Client({ transport, registry: { lookup: (s) => (lookups++, inner.lookup(s)) } });
    stops.push(() => client.close());
    for (let i = 0; i < 5; i++) await client.invoke('Echo', 'who', {});
    expect(lookups).toBe(5);
  });

  it('with memoryRegistry, servers that listen are called and servers that close are not', async () => {
    const registry = memoryRegistry();
    const started: Server[] = [];
    for (const name of ['a', 'b']) {
      const server = new Server({ transport, registrar: registry }).register(new Echo(name));
      await server.listen(`inproc://mem-${name}-${Math.random()}`);
      started.push(server);
      stops.push(() => server.close({ drainTimeout: 100 }));
    }
    const client = new Client({ transport, registry });
    stops.push(() => client.close());
    const seen = new Set<unknown>();
    for (let i = 0; i < 10; i++) seen.add(await client.invoke('Echo', 'who', {}));
    expect([...seen].sort()).toEqual(['a', 'b']);
    await started[0]!.close();
    for (let i = 0; i < 10; i++) expect(await client.invoke('Echo', 'who', {})).toBe('b');
    await started[1]!.close();
    await expect(client.invoke('Echo', 'who', {})).rejects.toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent', message: expect.stringContaining("no address is known for service 'Echo'") });
  });
});
