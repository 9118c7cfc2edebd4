import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, staticRegistry, type CallOptions } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { clientResilience, servicePolicy, type ClientResilience } from '../src/index.js';

interface Order {
  id: string;
}

/** Counts its calls; `find` fails with UNAVAILABLE while `failing`. */
@Service('Orders')
class Orders {
  calls = 0;
  failing = false;
  seenAuthorization: string | undefined;

  @Method({ idempotent: true })
  async find(_query: { customer: string }, ctx: { metadata: Record<string, string> }): Promise<Order[]> {
    this.calls++;
    this.seenAuthorization = ctx.metadata.authorization;
    if (this.failing) throw new RpcError('UNAVAILABLE', 'down for the test');
    return [{ id: 'o-1' }];
  }

  @Method()
  async count(): Promise<number> {
    this.calls++;
    if (this.failing) throw new RpcError('UNAVAILABLE', 'down for the test');
    return 1;
  }
}

/** Shaped as svc-gen generates a client: a static service name and typed methods. */
class OrdersClient {
  static readonly service = 'Orders';
  readonly #client: Client;
  constructor(client: Client) {
    this.#client = client;
  }
  find(query: { customer: string }, options?: CallOptions<Order[]>): Promise<Order[]> {
    return this.#client.invoke<Order[]>('Orders', 'find', query, options);
  }
  count(options?: CallOptions<number>): Promise<number> {
    return this.#client.invoke<number>('Orders', 'count', {}, options);
  }
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

async function serve(count: number): Promise<{ services: Orders[]; addresses: string[] }> {
  const services: Orders[] = [];
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const service = new Orders();
    const server = new Server({ transport: tcp() }).register(service);
    addresses.push(await server.listen('tcp://127.0.0.1:0'));
    open.push({ close: () => server.close({ drainTimeout: 100 }) });
    services.push(service);
  }
  return { services, addresses };
}

function clientWith(resilience: ClientResilience, addresses: string[], failMode: 'failfast' | 'failover' = 'failfast'): Client {
  const client = new Client(resilience.apply({ transport: tcp(), registry: staticRegistry({ Orders: addresses }), failMode }));
  open.push(client, resilience);
  return client;
}

describe('clientResilience', () => {
  it('refuses unknown keys and bad values at every level, naming the path', () => {
    expect(() => clientResilience({ breakr: {} } as never)).toThrow(/clientResilience\.breakr: unknown key/);
    expect(() => clientResilience({ services: { Orders: { methods: { find: { breaker: { resetTimout: 5 } } } } } } as never)).toThrow(/clientResilience\.services\.Orders\.methods\.find\.breaker\.resetTimout/);
    expect(() => clientResilience({ services: { Orders: { fallback: 1 } } } as never)).toThrow(/services\.Orders\.fallback: unknown key/);
    expect(() => clientResilience({ services: { Orders: { rateLimit: { reservoir: -1, refreshIntervalMs: 1000 } } } })).toThrow(/services\.Orders\.rateLimit/);
    expect(() => clientResilience({ bulkhead: { concurrency: 0 } })).toThrow(/bulkhead\.concurrency/);
    expect(() => clientResilience({ token: 'a', apiKey: 'b'.repeat(20) })).toThrow(/either token or apiKey/);
    expect(() => clientResilience({ services: 3 } as never)).toThrow(/clientResilience\.services: expected an object/);
    let error: unknown;
    try {
      clientResilience({ breakr: {} } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('makes only the parts the policy sets', async () => {
    const none = clientResilience({});
    expect(none.filters).toHaveLength(0);
    expect(none.attemptFilters).toHaveLength(0);
    expect(none.breakers).toBeUndefined();
    const inner = { select: () => ({ address: 'x' }) };
    expect(none.selector(inner)).toBe(inner);
    const some = clientResilience({ breaker: {}, token: 't' });
    expect(some.filters).toHaveLength(1);
    expect(some.attemptFilters).toHaveLength(1);
    await Promise.all([none.close(), some.close()]);
  });

  it('sends the token, and opens a failing node\'s breaker so failover stops trying it', async () => {
    const { services, addresses } = await serve(2);
    const resilience = clientResilience({ token: 'tok-123', breaker: { failures: 3, windowMs: 10_000, resetTimeout: 60_000 } });
    const client = clientWith(resilience, addresses, 'failover');
    services[0]!.failing = true;
    // Idempotent, so failover may retry it after the handler ran (a JSON client has no schema to say so).
    for (let i = 0; i < 40; i++) await expect(client.invoke('Orders', 'find', { customer: 'c' }, { idempotent: true })).resolves.toEqual([{ id: 'o-1' }]);
    // Three failures opened it; after that the selector left the node out.
    expect(services[0]!.calls).toBe(3);
    expect(services[1]!.calls).toBe(40);
    expect(services[1]!.seenAuthorization).toBe('Bearer tok-123');
    expect(resilience.breakers!.stateOf('Orders', 'find', addresses[0]!)).toBe('open');
  });

  it('resolves the nearest level part by part: a method turns the service\'s limit off', async () => {
    const { services, addresses } = await serve(1);
    const resilience = clientResilience({
      rateLimit: { reservoir: 2, refreshIntervalMs: 60_000 },
      services: { Orders: { methods: { count: { rateLimit: false } } } },
    });
    const client = clientWith(resilience, addresses);
    await client.invoke('Orders', 'find', { customer: 'c' });
    await client.invoke('Orders', 'find', { customer: 'c' });
    await expect(client.invoke('Orders', 'find', { customer: 'c' })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'not_sent' });
    for (let i = 0; i < 5; i++) await client.invoke('Orders', 'count', {});
    expect(services[0]!.calls).toBe(7);
  });

  it('answers a failed call with the method\'s typed fallback, and the user\'s services win where both set one', async () => {
    const { services, addresses } = await serve(1);
    services[0]!.failing = true;
    const resilience = clientResilience({
      services: { ...servicePolicy(OrdersClient, { methods: { find: { fallback: [] }, count: { fallback: () => -1 } } }) },
    });
    const client = new Client(
      resilience.apply({ transport: tcp(), registry: staticRegistry({ Orders: addresses }), services: { Orders: { methods: { count: { fallback: -2 } } } } }),
    );
    open.push(client, resilience);
    const orders = new OrdersClient(client);
    await expect(orders.find({ customer: 'c' })).resolves.toEqual([]);
    await expect(orders.count()).resolves.toBe(-2);
  });

  it('types a fallback by the method\'s result', () => {
    servicePolicy(OrdersClient, { methods: { find: { fallback: [{ id: 'x' }] } } });
    // @ts-expect-error: find resolves with Order[], not a string
    servicePolicy(OrdersClient, { methods: { find: { fallback: 'none' } } });
    // @ts-expect-error: no such method on the generated client
    servicePolicy(OrdersClient, { methods: { fnd: {} } });
    expectTypeOf(servicePolicy(OrdersClient, {})).toHaveProperty('Orders');
  });
});
