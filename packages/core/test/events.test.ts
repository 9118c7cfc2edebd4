import { describe, expect, it } from 'vitest';
import { Client, EventContext, Method, RpcError, Server, Service, Subscribe, inproc, silentLogger, staticRegistry } from '../src/index.js';
import { topicMatches } from '../src/transport-kit.js';

interface Order {
  id: number;
}

function makeService(name: string, log: string[]) {
  @Service('Orders')
  class Orders {
    @Method()
    async ping(): Promise<string> {
      return name;
    }
    @Subscribe('orders.created')
    async created(order: Order, ctx: EventContext): Promise<void> {
      log.push(`${name}:created:${order.id}:${ctx.metadata.by ?? ''}:${ctx.topic}`);
    }
    @Subscribe('cache.flush', { broadcast: true })
    @Subscribe('cache.*', { group: 'wild' })
    async flush(_: unknown, ctx: EventContext): Promise<void> {
      log.push(`${name}:${ctx.topic}`);
    }
    @Subscribe('slow')
    async slow(args: { ms: number }): Promise<void> {
      await new Promise((r) => setTimeout(r, args.ms));
      log.push(`${name}:slow-done`);
    }
  }
  return new Orders();
}

async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('events over inproc', () => {
  it('delivers to one instance per group and to all for broadcast', async () => {
    const t = inproc();
    const log: string[] = [];
    const servers = ['a', 'b', 'c'].map((n) => new Server({ transport: t, logger: silentLogger }).register(makeService(n, log)));
    for (const [i, s] of servers.entries()) await s.listen(`inproc://orders-${i}`);
    const client = new Client({ transport: t, registry: staticRegistry({}), eventAddress: 'inproc://bus' });
    for (let id = 0; id < 6; id++) await client.publish('orders.created', { id }, { metadata: { by: 'test' } });
    await until(() => log.length === 6);
    const created = log.filter((l) => l.includes(':created:'));
    expect(created.map((l) => l.split(':')[2]).sort()).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(new Set(created.map((l) => l.split(':')[0]))).toEqual(new Set(['a', 'b', 'c'])); // shared, round robin
    expect(created[0]).toMatch(/:test:orders\.created$/);

    log.length = 0;
    await client.publish('cache.flush', {});
    // broadcast: all three; plus the 'cache.*' pattern in group 'wild': one of them.
    await until(() => log.length === 4);
    expect(log.filter((l) => l.endsWith(':cache.flush')).length).toBe(4);
    expect(new Set(log.map((l) => l.split(':')[0]))).toEqual(new Set(['a', 'b', 'c']));
    await client.close();
    for (const s of servers) await s.close();
  });

  it('waits for running handlers on close and delivers nothing after', async () => {
    const t = inproc();
    const log: string[] = [];
    const server = new Server({ transport: t, logger: silentLogger }).register(makeService('a', log));
    await server.listen('inproc://x');
    const client = new Client({ transport: t, registry: staticRegistry({}), eventAddress: 'inproc://x' });
    await client.publish('slow', { ms: 200 });
    await new Promise((r) => setTimeout(r, 20));
    await server.close();
    expect(log).toEqual(['a:slow-done']);
    await client.publish('orders.created', { id: 1 });
    await new Promise((r) => setTimeout(r, 50));
    expect(log).toEqual(['a:slow-done']);
    await client.close();
  });

  it('needs an address to publish to', async () => {
    const client = new Client({ transport: inproc(), registry: staticRegistry({}) });
    const error = (await client.publish('x', {}).catch((e: unknown) => e)) as RpcError;
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe('FAILED_PRECONDITION');
    expect(error.message).toContain('eventAddress');
  });

  it('matches topics like NATS subjects', () => {
    expect(topicMatches('a.b', 'a.b')).toBe(true);
    expect(topicMatches('a.*', 'a.b')).toBe(true);
    expect(topicMatches('a.*', 'a.b.c')).toBe(false);
    expect(topicMatches('a.>', 'a.b.c')).toBe(true);
    expect(topicMatches('a.>', 'a')).toBe(false);
    expect(topicMatches('*.b', 'a.c')).toBe(false);
  });
});
