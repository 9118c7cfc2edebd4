import { describe, expect, it } from 'vitest';
import { Client, Server, inproc, schemaCodecs, schemaJsonCodec, silentLogger, staticRegistry, type Codec } from '@svc/core';
import type { EventMessage } from '@svc/core/transport';
import { Ledger, Stock, type Restock } from './fixtures/corpus/src/stock.js';
import { EventPublisher, schemas } from './fixtures/corpus/src/generated/index.js';

// Typed events end to end over inproc: the generated EventPublisher, the generated schemas on
// both sides, the handlers of the corpus. (Over NATS: packages/transport-nats/test/events-typed.test.ts.)
const RESTOCK: Restock = {
  sku: 'sku-1',
  qty: 12,
  lot: -(2n ** 63n),
  at: new Date('1960-02-29T12:00:00.123Z'),
  color: 'blue',
  bins: new Map([['a1', { x: 1.5, y: -2 }], ['', { x: 0, y: 0 }]]),
};

async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe.each<[string, Codec[], string]>([
  ['protobuf', schemaCodecs(schemas), 'protobuf'],
  ['JSON', [schemaJsonCodec(schemas)], 'json'],
])('typed events through the generated publisher over inproc, in %s', (_name, clientCodecs, wire) => {
  it('delivers every payload equal, to each subscribing service, in the schema codec', async () => {
    const transport = inproc();
    const codecsOnWire: string[] = [];
    const connect = transport.connect.bind(transport);
    transport.connect = (address) => {
      const channel = connect(address) as ReturnType<typeof connect> & { publishEvent(e: EventMessage): Promise<void> };
      const publish = channel.publishEvent.bind(channel);
      channel.publishEvent = (e) => (codecsOnWire.push(e.codec), publish(e));
      return channel;
    };
    const stock = new Stock();
    const ledger = new Ledger();
    const server = new Server({ transport, codecs: schemaCodecs(schemas), logger: silentLogger }).register(stock).register(ledger);
    await server.listen('inproc://stock');
    const client = new Client({ transport, registry: staticRegistry({}), eventAddress: 'inproc://stock', codecs: clientCodecs });
    const events = new EventPublisher(client);
    try {
      await events.publish('stock.restocked', RESTOCK, { metadata: { by: 'test' } });
      await events.publish('stock.noted', 'low on blue');
      await events.publish('stock.flushed');
      await events.publish('stock.adjusted', { sku: 'sku-1', delta: -3 });
      await events.publish('stock.corrected', { sku: 'sku-2', delta: 0 });
      await until(() => stock.received.length === 5 && ledger.received.length === 1);
      const got = Object.fromEntries(stock.received.map((r) => [r.topic, r]));
      expect(got['stock.restocked']!.payload).toEqual(RESTOCK);
      expect(got['stock.restocked']!.metadata).toEqual({ by: 'test' });
      expect(got['stock.noted']!.payload).toBe('low on blue');
      expect(got['stock.flushed']!.payload).toBeUndefined();
      expect(got['stock.adjusted']!.payload).toEqual({ sku: 'sku-1', delta: -3 });
      expect(got['stock.corrected']!.payload).toEqual({ sku: 'sku-2', delta: 0 });
      expect(ledger.received).toEqual([RESTOCK]);
      expect(codecsOnWire).toEqual([wire, wire, wire, wire, wire]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('refuses a payload that does not fit before it leaves', async () => {
    const client = new Client({ transport: inproc(), registry: staticRegistry({}), eventAddress: 'inproc://none', codecs: clientCodecs });
    const events = new EventPublisher(client);
    // A caller that got around the types (a cast, data from JSON): the codec still checks.
    const bad = { ...RESTOCK, color: 'purple' } as unknown as Restock;
    await expect(events.publish('stock.restocked', bad)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: `event 'stock.restocked': payload.color expected one of "red", "green", "blue", got "purple"`,
      details: { field: 'payload.color' },
    });
    await client.close();
  });
});
