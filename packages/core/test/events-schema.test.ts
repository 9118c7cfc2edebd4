import { describe, expect, it } from 'vitest';
import {
  Client, EventContext, RpcError, Server, Service, Subscribe, inproc, jsonCodec, protobufCodec, schemaCodecs, schemaJsonCodec, staticRegistry,
  type Codec, type Logger, type ServiceSchema,
} from '../src/index.js';
import type { EventMessage } from '../src/transport-kit.js';

// Typed events at run time, with a schema written as svc-gen writes it (the generated publisher
// and the corpus are tested in @svc/codegen): the publisher encodes with the codec of the schema,
// the server decodes with the codec the event names and checks the payload before the handler.

interface Order {
  id: bigint;
  qty: number;
  at: Date;
}

const SCHEMA: ServiceSchema = {
  schemaVersion: 1,
  service: 'Stock',
  package: 'stock',
  methods: [],
  messages: [
    { name: 'Order', fields: [
      { name: 'id', no: 1, type: { kind: 'scalar', scalar: 'int64' } },
      { name: 'qty', no: 2, type: { kind: 'scalar', scalar: 'int32' } },
      { name: 'at', no: 3, type: { kind: 'timestamp' } },
    ] },
    { name: 'NoteEvent', fields: [{ name: 'value', no: 1, type: { kind: 'scalar', scalar: 'string' } }] },
  ],
  enums: [],
  events: [
    { topic: 'orders.created', message: 'Order' },
    { topic: 'notes.added', message: 'NoteEvent', wrapped: true },
    { topic: 'cache.flush', message: null },
  ],
};

function recorder(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const noop = (): void => {};
  return { warnings, logger: { debug: noop, info: noop, error: noop, warn: (m: string) => warnings.push(m) } };
}

async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function stock(seen: { topic: string; payload: unknown; metadata: unknown }[]) {
  @Service('Stock')
  class Stock {
    @Subscribe('orders.created')
    async created(order: Order, ctx: EventContext): Promise<void> {
      seen.push({ topic: ctx.topic, payload: order, metadata: ctx.metadata });
    }
    @Subscribe('notes.added')
    async note(note: string, ctx: EventContext): Promise<void> {
      seen.push({ topic: ctx.topic, payload: note, metadata: ctx.metadata });
    }
    @Subscribe('cache.flush')
    async flush(_: undefined, ctx: EventContext): Promise<void> {
      seen.push({ topic: ctx.topic, payload: _, metadata: ctx.metadata });
    }
    @Subscribe('untyped.thing')
    async untyped(value: unknown, ctx: EventContext): Promise<void> {
      seen.push({ topic: ctx.topic, payload: value, metadata: ctx.metadata });
    }
  }
  return new Stock();
}

/** A transport whose channels record the codec each published event carries. */
function tapped(codecsSeen: string[]) {
  const transport = inproc();
  const connect = transport.connect.bind(transport);
  transport.connect = (address: string) => {
    const channel = connect(address) as ReturnType<typeof connect> & { publishEvent(e: EventMessage): Promise<void> };
    const publish = channel.publishEvent.bind(channel);
    channel.publishEvent = (e: EventMessage) => {
      codecsSeen.push(e.codec);
      return publish(e);
    };
    return channel;
  };
  return transport;
}

const ORDER: Order = { id: 2n ** 62n + 1n, qty: 3, at: new Date('1969-07-20T20:17:40.000Z') };

describe.each<[string, Codec[], string]>([
  ['protobuf', schemaCodecs([SCHEMA]), 'protobuf'],
  ['schema-checked JSON', [schemaJsonCodec([SCHEMA])], 'json'],
])('typed events in %s over inproc', (_name, clientCodecs, wireCodec) => {
  it('round trips bigint, Date, wrapped and empty payloads, in the schema codec', async () => {
    const seen: { topic: string; payload: unknown; metadata: unknown }[] = [];
    const codecsSeen: string[] = [];
    const transport = tapped(codecsSeen);
    const server = new Server({ transport, codecs: schemaCodecs([SCHEMA]) }).register(stock(seen));
    await server.listen('inproc://stock');
    const client = new Client({ transport, registry: staticRegistry({}), eventAddress: 'inproc://stock', codecs: clientCodecs });
    try {
      await client.publish('orders.created', ORDER, { metadata: { by: 'test' } });
      await client.publish('notes.added', 'hello');
      await client.publish('cache.flush', undefined);
      await client.publish('untyped.thing', { free: ['form'] });
      await until(() => seen.length === 4);
      const byTopic = Object.fromEntries(seen.map((s) => [s.topic, s]));
      expect(byTopic['orders.created']!.payload).toEqual(ORDER);
      expect(byTopic['orders.created']!.metadata).toEqual({ by: 'test' });
      expect(byTopic['notes.added']!.payload).toBe('hello');
      expect(byTopic['cache.flush']!.payload).toBeUndefined();
      expect(byTopic['untyped.thing']!.payload).toEqual({ free: ['form'] });
      // Typed topics in the schema codec; a topic no schema knows as plain JSON.
      expect(codecsSeen).toEqual([wireCodec, wireCodec, wireCodec, 'json']);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('refuses a bad payload at the publisher, naming the field', async () => {
    const transport = inproc();
    const client = new Client({ transport, registry: staticRegistry({}), eventAddress: 'inproc://nowhere', codecs: clientCodecs });
    const error = await client.publish('orders.created', { ...ORDER, qty: 'three' }).catch((e: unknown) => e);
    expect(RpcError.is(error)).toBe(true);
    expect((error as RpcError).code).toBe('INVALID_ARGUMENT');
    expect((error as RpcError).message).toBe(`event 'orders.created': payload.qty expected an integer from -2147483648 to 2147483647 (int32), got "three"`);
    expect((error as RpcError).details).toMatchObject({ field: 'payload.qty' });
    await client.close();
  });
});

describe('the server checks typed events before the handler', () => {
  it('drops a raw JSON event with a wrong field type and logs the field path; good ones still arrive', async () => {
    const seen: { topic: string; payload: unknown; metadata: unknown }[] = [];
    const { logger, warnings } = recorder();
    const transport = inproc();
    const server = new Server({ transport, codecs: schemaCodecs([SCHEMA]), logger }).register(stock(seen));
    await server.listen('inproc://stock');
    // A publisher without the schemas: plain JSON, unchecked on its side.
    const raw = new Client({ transport, registry: staticRegistry({}), eventAddress: 'inproc://stock', codecs: [jsonCodec()] });
    try {
      await raw.publish('orders.created', { id: '7', qty: 'three', at: '2024-01-01T00:00:00.000Z' });
      await raw.publish('orders.created', { id: '8', qty: 2, at: '2024-01-01T00:00:00.000Z' });
      await until(() => seen.length === 1 && warnings.length === 1);
      expect(warnings[0]).toBe(`Stock.created did not get an event: event 'orders.created': payload.qty expected an integer from -2147483648 to 2147483647 (int32), got "three"`);
      // The good one was revived from its JSON forms (decimal string → bigint, ISO string → Date).
      expect(seen[0]!.payload).toEqual({ id: 8n, qty: 2, at: new Date('2024-01-01T00:00:00.000Z') });
    } finally {
      await raw.close();
      await server.close();
    }
  });

  it('drops a protobuf event on a server without the schemas, saying what to do', async () => {
    const seen: { topic: string; payload: unknown; metadata: unknown }[] = [];
    const { logger, warnings } = recorder();
    const transport = inproc();
    const server = new Server({ transport, logger }).register(stock(seen));
    await server.listen('inproc://stock');
    const client = new Client({ transport, registry: staticRegistry({}), eventAddress: 'inproc://stock', codecs: [protobufCodec([SCHEMA])] });
    try {
      await client.publish('orders.created', ORDER);
      await until(() => warnings.length === 1);
      expect(warnings[0]).toContain(`event 'orders.created': the event is in the codec 'protobuf', which this server does not have`);
      expect(seen).toEqual([]);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
