import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../src/testing/index.js';
import { checkHealth, Client, HEALTH_SERVICE, memoryRegistry, Method, RpcError, Server, Service, inproc, silentLogger, staticRegistry, type Filter, type HealthResponse } from '../src/index.js';

// Every Server answers SvcHealth (check, and watch as a long poll), on every listener, past its
// filters: an auth filter or a limiter does not keep a health check out.

@Service('Orders', { version: '1.2.0' })
class Orders {
  @Method()
  async get(): Promise<string> {
    return 'order';
  }
}

@Service('SvcHealth')
class Impostor {
  @Method()
  async check(): Promise<string> {
    return 'SERVING';
  }
}

let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

const denyAll: Filter = async () => {
  throw new RpcError('UNAUTHENTICATED', 'no token');
};

async function rig(filters: Filter[] = [], registrar?: ReturnType<typeof memoryRegistry>) {
  const transport = inproc();
  const server = new Server({ transport, logger: silentLogger, filters, registrar }).register(new Orders());
  const address = await server.listen(`inproc://health-${Math.random()}`);
  const client = new Client({ transport, registry: staticRegistry({ Orders: [address] }) });
  stops.push(() => server.close({ drainTimeout: 200 }));
  stops.push(() => client.close());
  return { server, address, client };
}

describe('the health service', () => {
  it('says SERVING for the server and its services, SERVICE_UNKNOWN for others, past filters that refuse every call', async () => {
    const { client, address } = await rig([denyAll]);
    await expect(client.invoke('Orders', 'get', {})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await checkHealth(client, address)).toBe('SERVING');
    expect(await checkHealth(client, address, 'Orders')).toBe('SERVING');
    expect(await checkHealth(client, address, 'Nope')).toBe('SERVICE_UNKNOWN');
  });

  it('follows what the application sets, per service', async () => {
    const { server, client, address } = await rig();
    server.health.set('Orders', 'NOT_SERVING');
    expect(await checkHealth(client, address, 'Orders')).toBe('NOT_SERVING');
    expect(await checkHealth(client, address)).toBe('SERVING');
    server.health.set('Orders', 'SERVING');
    expect(await checkHealth(client, address, 'Orders')).toBe('SERVING');
  });

  it('watch answers at once when the status differs from the one known, else on the change', async () => {
    const { server, client, address } = await rig();
    const at = { address };
    expect(await client.invoke<HealthResponse>(HEALTH_SERVICE, 'watch', { service: 'Orders' }, at)).toEqual({ status: 'SERVING' });
    const started = Date.now();
    const watching = client.invoke<HealthResponse>(HEALTH_SERVICE, 'watch', { service: 'Orders', last: 'SERVING', waitMs: 5_000 }, at);
    await until(() => server.health.watching === 1);
    expect(server.health.watching).toBe(1);
    server.health.set('Orders', 'NOT_SERVING');
    expect(await watching).toEqual({ status: 'NOT_SERVING' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.health.watching).toBe(0);
    // Nothing changes: the watch answers the status as it is after waitMs.
    expect(await client.invoke<HealthResponse>(HEALTH_SERVICE, 'watch', { service: 'Orders', last: 'NOT_SERVING', waitMs: 20 }, at)).toEqual({ status: 'NOT_SERVING' });
  });

  it('a cancelled watch leaves no waiter behind', async () => {
    const { server, client, address } = await rig();
    const controller = new AbortController();
    const watching = client.invoke(HEALTH_SERVICE, 'watch', { last: 'SERVING', waitMs: 60_000 }, { address, signal: controller.signal });
    await until(() => server.health.watching === 1);
    expect(server.health.watching).toBe(1);
    controller.abort();
    await expect(watching).rejects.toMatchObject({ code: 'CANCELLED' });
    await until(() => server.health.watching === 0);
    expect(server.health.watching).toBe(0);
  });

  it('close() answers NOT_SERVING to every watcher before it drains, also one that knew NOT_SERVING', async () => {
    const { server, client, address } = await rig();
    server.health.set('Orders', 'NOT_SERVING');
    const a = client.invoke<HealthResponse>(HEALTH_SERVICE, 'watch', { last: 'SERVING', waitMs: 60_000 }, { address });
    const b = client.invoke<HealthResponse>(HEALTH_SERVICE, 'watch', { service: 'Orders', last: 'NOT_SERVING', waitMs: 60_000 }, { address });
    await until(() => server.health.watching === 2);
    const started = Date.now();
    const closing = server.close({ drainTimeout: 5_000 });
    expect(await a).toEqual({ status: 'NOT_SERVING' });
    expect(await b).toEqual({ status: 'NOT_SERVING' });
    await closing;
    // The watches did not hold the drain up to its timeout.
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('refuses a bad request with INVALID_ARGUMENT, and is not a service the server registers or announces', async () => {
    const registry = memoryRegistry();
    const { server, client, address } = await rig([], registry);
    await expect(client.invoke(HEALTH_SERVICE, 'check', { service: 7 }, { address })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/service must be a string/) });
    await expect(client.invoke(HEALTH_SERVICE, 'watch', { last: 'MAYBE' }, { address })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.invoke(HEALTH_SERVICE, 'nope', {}, { address })).rejects.toMatchObject({ code: 'UNIMPLEMENTED', message: expect.stringMatching(/check, watch/) });
    expect(server.serviceNames).toEqual(['Orders']);
    expect((await registry.lookup(HEALTH_SERVICE)).length).toBe(0);
    expect((await registry.lookup('Orders')).length).toBe(1);
    expect(() => new Server({ transport: inproc() }).register(new Impostor())).toThrow(/SvcHealth/);
  });
});
