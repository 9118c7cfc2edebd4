import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../src/testing/index.js';
import { CallContext, Client, Method, Server, Service, inproc, memoryRegistry, type Logger, type Registrar, type ServiceInstance } from '../src/index.js';
import { advertisedAddress } from '../src/server/advertised-instances.js';

@Service('Slow', { version: '2.1.0' })
class Slow {
  @Method()
  async wait(args: { ms: number }, ctx: CallContext): Promise<string> {
    await new Promise((r) => setTimeout(r, args.ms));
    return ctx.service;
  }
}

@Service('Other')
class Other {
  @Method()
  async ping(): Promise<string> {
    return 'pong';
  }
}

const transport = inproc();
let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

function logger(): Logger & { warns: string[] } {
  const warns: string[] = [];
  return { warns, debug: () => {}, info: () => {}, warn: (m) => void warns.push(m), error: (m) => void warns.push(m) };
}

describe('a server with a registrar', () => {
  it('registers every service of a listener in one call, with version, tags and weight', async () => {
    const calls: ServiceInstance[][] = [];
    const registrar: Registrar = {
      async register(instances) {
        calls.push([...instances]);
        return { deregister: async () => {} };
      },
    };
    const server = new Server({ transport, registrar, tags: { zone: 'eu' }, weight: 3 }).register(new Slow()).register(new Other());
    stops.push(() => server.close());
    const address = await server.listen(`inproc://reg-${Math.random()}`);
    expect(calls).toHaveLength(1);
    const [slow, other] = calls[0]!;
    expect(slow).toMatchObject({ service: 'Slow', address, version: '2.1.0', weight: 3, tags: { zone: 'eu' } });
    expect(other).toMatchObject({ service: 'Other', address, version: '0.0.0' });
    expect(slow!.instance).toMatch(/^[0-9a-f]{16}$/);
    expect(other!.instance).toBe(slow!.instance);
    // A second listener is a second instance.
    await server.listen(`inproc://reg-${Math.random()}`);
    expect(calls).toHaveLength(2);
    expect(calls[1]![0]!.instance).not.toBe(slow!.instance);
    // Not registered when asked not to; registered under the address given.
    await server.listen(`inproc://reg-${Math.random()}`, { register: false });
    await server.listen(`inproc://reg-${Math.random()}`, { advertise: 'tcp://10.1.2.3:8972' });
    expect(calls).toHaveLength(3);
    expect(calls[2]![0]!.address).toBe('tcp://10.1.2.3:8972');
  });

  it('deregisters first on close, before draining: the registry is empty while a call still runs', async () => {
    const registry = memoryRegistry();
    const server = new Server({ transport, registrar: registry }).register(new Slow());
    const address = await server.listen(`inproc://reg-${Math.random()}`);
    expect(registry.lookup('Slow').map((n) => n.address)).toEqual([address]);
    const client = new Client({ transport, registry });
    stops.push(() => client.close());
    const slow = client.invoke('Slow', 'wait', { ms: 300 });
    await until(() => server.inflightCount === 1);
    const closed = server.close();
    await until(() => registry.lookup('Slow').length === 0, 1_000);
    expect(server.inflightCount).toBe(1); // still draining
    expect(await slow).toBe('Slow');
    await closed;
  });

  it('rejects listen with registrationFailed when the registrar fails, and closes that listener', async () => {
    const registrar: Registrar = { register: async () => Promise.reject(new Error('etcd said no')) };
    const server = new Server({ transport, registrar }).register(new Slow());
    stops.push(() => server.close());
    const address = `inproc://reg-${Math.random()}`;
    const error = await server.listen(address).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(`listened on ${address} but could not register it (etcd said no)`) });
    expect(server.addresses).toEqual([]);
    // The address is free again: nothing serves unannounced.
    const other = new Server({ transport }).register(new Slow());
    stops.push(() => other.close());
    await expect(other.listen(address)).resolves.toBe(address);
  });

  it('closes even when deregistering hangs or fails, and logs it', async () => {
    const log = logger();
    const registrar: Registrar = {
      register: async () => ({ deregister: () => new Promise<void>(() => {}) }),
    };
    const failing: Registrar = { register: async () => ({ deregister: async () => Promise.reject(new Error('lease gone')) }) };
    const hung = new Server({ transport, registrar, logger: log, drainTimeout: 200 }).register(new Slow());
    await hung.listen(`inproc://reg-${Math.random()}`);
    const started = Date.now();
    await hung.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    const broken = new Server({ transport, registrar: failing, logger: log }).register(new Slow());
    await broken.listen(`inproc://reg-${Math.random()}`);
    await broken.close();
    expect(log.warns.join('\n')).toMatch(/could not deregister inproc:\/\/\S+ \(no answer within 200 ms\)/);
    expect(log.warns.join('\n')).toMatch(/could not deregister inproc:\/\/\S+ \(lease gone\)/);
  });

  it('advertises a wildcard bind under advertiseHost, or this host', () => {
    expect(advertisedAddress('tcp://0.0.0.0:8972', undefined, { advertiseHost: '10.0.0.5' })).toBe('tcp://10.0.0.5:8972');
    expect(advertisedAddress('tcp://[::]:8972', undefined, { advertiseHost: 'fd00::5' })).toBe('tcp://[fd00::5]:8972');
    expect(advertisedAddress('tcp://127.0.0.1:8972', undefined, { advertiseHost: '10.0.0.5' })).toBe('tcp://127.0.0.1:8972');
    expect(advertisedAddress('tcp://0.0.0.0:8972', 'tcp://lb:1', {})).toBe('tcp://lb:1');
    expect(advertisedAddress('tcp://0.0.0.0:8972', undefined, {})).toMatch(/^tcp:\/\/\d+\.\d+\.\d+\.\d+:8972$/);
    expect(advertisedAddress('nats://127.0.0.1:4222?instance=x', undefined, {})).toBe('nats://127.0.0.1:4222?instance=x');
  });
});
