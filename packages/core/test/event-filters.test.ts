import { describe, expect, it } from 'vitest';
import { until } from '../src/testing/index.js';
import {
  Client, EventContext, Method, RpcError, Server, Service, Subscribe, inproc, staticRegistry,
  type Call, type Filter, type Logger, type PublishCall,
} from '../src/index.js';

// Event deliveries pass through the server's filters (ServerOptions.filters), as calls do: the
// call a filter gets is the handler's EventContext (side 'server', method = the handler's
// property, request = the payload, topic). A filter that throws keeps the event from the handler.

@Service('Shop')
class Shop {
  got: unknown[] = [];
  @Method()
  async ping(): Promise<string> {
    return 'pong';
  }
  @Subscribe('orders.created')
  async onOrder(order: { id: number }, ctx: EventContext): Promise<void> {
    this.got.push([order, ctx.topic, ctx.method]);
  }
  @Subscribe('audit.>')
  async audit(entry: unknown, ctx: EventContext): Promise<void> {
    this.got.push([entry, ctx.topic, ctx.method]);
  }
}

function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const noop = (): void => {};
  return { warnings, logger: { debug: noop, info: noop, error: noop, warn: (message: string) => warnings.push(message) } };
}


async function rig(filters: Filter[]) {
  const transport = inproc();
  const shop = new Shop();
  const { logger, warnings } = recordingLogger();
  const server = new Server({ transport, logger, filters }).register(shop);
  const address = await server.listen('inproc://shop-' + Math.random());
  const client = new Client({ transport, registry: staticRegistry({ Shop: [address] }), eventAddress: address });
  return { shop, warnings, client, async stop() { await client.close(); await server.close(); } };
}

describe('server filters on events', () => {
  it('see each delivery as a server call with the topic, and may change the payload', async () => {
    const seen: unknown[] = [];
    const filter: Filter = async (call: Call, next) => {
      if (call instanceof EventContext) {
        seen.push({ side: call.side, service: call.service, method: call.method, request: call.request, topic: call.topic, by: call.metadata.by, deadline: call.deadline, aborted: call.signal.aborted });
        if (call.topic === 'orders.created') call.request = { id: (call.request as { id: number }).id * 10 };
      } else {
        seen.push({ call: call.method, hasTopic: 'topic' in call });
      }
      return next();
    };
    const r = await rig([filter]);
    await r.client.publish('orders.created', { id: 4 }, { metadata: { by: 'ann' } });
    await r.client.publish('audit.login', { who: 'bob' });
    await until(() => r.shop.got.length === 2);
    expect(await r.client.invoke('Shop', 'ping', {})).toBe('pong');
    expect(seen).toEqual([
      { side: 'server', service: 'Shop', method: 'onOrder', request: { id: 4 }, topic: 'orders.created', by: 'ann', deadline: 0, aborted: false },
      { side: 'server', service: 'Shop', method: 'audit', request: { who: 'bob' }, topic: 'audit.login', by: undefined, deadline: 0, aborted: false },
      { call: 'ping', hasTopic: false },
    ]);
    expect(r.shop.got).toEqual([[{ id: 40 }, 'orders.created', 'onOrder'], [{ who: 'bob' }, 'audit.login', 'audit']]);
    await r.stop();
  });

  it('an event a filter refuses is not delivered, and is logged like a handler error', async () => {
    const refuse: Filter = async (call, next) => {
      if (call instanceof EventContext && call.metadata.tenant !== 'ok') throw new RpcError('PERMISSION_DENIED', 'no tenant');
      return next();
    };
    const r = await rig([refuse]);
    await r.client.publish('orders.created', { id: 1 });
    await r.client.publish('orders.created', { id: 2 }, { metadata: { tenant: 'ok' } });
    await until(() => r.shop.got.length === 1 && r.warnings.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.shop.got).toEqual([[{ id: 2 }, 'orders.created', 'onOrder']]);
    expect(r.warnings).toEqual(["event handler Shop.onOrder for 'orders.created' failed: no tenant"]);
    await r.stop();
  });

  it('a filter that calls next() twice on an event gets INTERNAL, and the handler ran once', async () => {
    const twice: Filter = async (_call, next) => {
      await next();
      return next();
    };
    const r = await rig([twice]);
    await r.client.publish('orders.created', { id: 3 });
    await until(() => r.warnings.length === 1);
    expect(r.shop.got).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^event handler Shop\.onOrder for 'orders\.created' failed: .*next\(\) twice/);
    await r.stop();
  });
});

describe('client filters on publish', () => {
  async function clientRig(clientFilters: Filter[], serverFilters: Filter[] = []) {
    const transport = inproc();
    const shop = new Shop();
    const server = new Server({ transport, filters: serverFilters }).register(shop);
    const address = await server.listen('inproc://shop-' + Math.random());
    const client = new Client({ transport, registry: staticRegistry({ Shop: [address] }), eventAddress: address, filters: clientFilters });
    return { shop, client, async stop() { await client.close(); await server.close(); } };
  }

  it('see a publish as kind event with the topic, may add metadata and replace the payload', async () => {
    const seen: unknown[] = [];
    const stamp: Filter = async (call, next) => {
      seen.push({ side: call.side, kind: call.kind, service: call.service, method: call.method, topic: (call as PublishCall).topic, request: call.request, deadline: call.deadline, aborted: call.signal.aborted });
      if (call.kind === 'event') {
        call.metadata.trace = 't-1';
        call.request = { id: (call.request as { id: number }).id + 1 };
      }
      return next();
    };
    const atServer: unknown[] = [];
    const server: Filter = async (call, next) => {
      atServer.push([call.kind, call.metadata.trace, call.metadata.by]);
      return next();
    };
    const given = { by: 'ann' };
    const r = await clientRig([stamp], [server]);
    await r.client.publish('orders.created', { id: 4 }, { metadata: given });
    await until(() => r.shop.got.length === 1);
    expect(await r.client.invoke('Shop', 'ping', {})).toBe('pong');
    expect(seen).toEqual([
      { side: 'client', kind: 'event', service: '', method: '', topic: 'orders.created', request: { id: 4 }, deadline: 0, aborted: false },
      { side: 'client', kind: 'call', service: 'Shop', method: 'ping', topic: undefined, request: {}, deadline: expect.any(Number), aborted: false },
    ]);
    expect(atServer).toEqual([['event', 't-1', 'ann'], ['call', undefined, undefined]]);
    expect(r.shop.got).toEqual([[{ id: 5 }, 'orders.created', 'onOrder']]);
    expect(given).toEqual({ by: 'ann' }); // the caller's object is not written to
    await r.stop();
  });

  it('a filter that throws keeps the event from the wire and rejects the publish', async () => {
    const refuse: Filter = async (call, next) => {
      if (call.kind === 'event') throw new RpcError('PERMISSION_DENIED', 'not you');
      return next();
    };
    const r = await clientRig([refuse]);
    await expect(r.client.publish('orders.created', { id: 1 })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.shop.got).toEqual([]);
    await r.stop();
  });

  it('metadata that breaks the rules is refused after the filters, as without them', async () => {
    const pass: Filter = (_call, next) => next();
    const r = await clientRig([pass]);
    await expect(r.client.publish('orders.created', { id: 1 }, { metadata: { n: 1 as unknown as string } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await r.stop();
  });
});
