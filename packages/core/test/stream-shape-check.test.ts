/** A client that has a method's schema (svc-gen's, with its stream shape) refuses a call made another way before sending it. */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, inproc, Server, silentLogger, staticRegistry, type ServiceSchema } from '../src/index.js';
import { StreamsTestService } from '../src/testing/stream-test-service.js';
import { failureOf } from '../src/testing/failure-of.js';

const double = { kind: 'scalar', scalar: 'double' } as const;
/** What svc-gen writes for two of the test service's methods: a server stream and a client stream. */
const schema: ServiceSchema = {
  schemaVersion: 1,
  service: 'Streams',
  package: 'streams',
  methods: [
    { name: 'ticks', request: 'TicksRequest', response: 'Tick', stream: 'server' },
    { name: 'sum', request: 'Addend', response: 'Total', responseWrapped: true, stream: 'client' },
    // As a descriptor generated before the stream field: a client stream without its shape.
    { name: 'drink', request: 'Sip', requestWrapped: true, response: 'Drunk' },
  ],
  messages: [
    {
      name: 'TicksRequest',
      fields: [
        { name: 'tag', no: 1, type: { kind: 'scalar', scalar: 'string' } },
        { name: 'everyMs', no: 2, type: double, optional: true },
        { name: 'n', no: 3, type: double, optional: true },
      ],
    },
    { name: 'Tick', fields: [{ name: 'i', no: 1, type: double }] },
    { name: 'Addend', fields: [{ name: 'n', no: 1, type: double }] },
    { name: 'Total', fields: [{ name: 'value', no: 1, type: double }] },
    { name: 'Sip', fields: [{ name: 'value', no: 1, type: { kind: 'scalar', scalar: 'string' } }] },
    {
      name: 'Drunk',
      fields: [
        { name: 'count', no: 1, type: double },
        { name: 'chars', no: 2, type: double },
        { name: 'whole', no: 3, type: { kind: 'scalar', scalar: 'bool' } },
      ],
    },
  ],
  enums: [],
};

let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

async function rig(clientSchemas = true): Promise<{ client: Client; served: () => number }> {
  const transport = inproc();
  let served = 0;
  const server = new Server({ transport, logger: silentLogger, schemas: [schema], filters: [(_call, next) => (served++, next())] }).register(new StreamsTestService());
  const address = await server.listen(`inproc://shape-${Math.random()}`);
  stops.push(() => server.close({ drainTimeout: 100 }));
  const client = new Client({ transport, registry: staticRegistry({ Streams: [address] }), ...(clientSchemas ? { schemas: [schema] } : {}) });
  stops.push(() => client.close());
  return { client, served: () => served };
}

describe('calls made another way than the schema declares', () => {
  it('invoke of a server stream fails at once, naming the call to use; nothing reaches the server', async () => {
    const { client, served } = await rig();
    const error = await failureOf(client.invoke('Streams', 'ticks', { tag: 'x', n: 1 }));
    expect(error).toMatchObject({ code: 'UNIMPLEMENTED', progress: 'not_sent', retryable: false });
    expect(error.message).toContain('Streams.ticks is a server stream');
    expect(error.message).toContain('call it with serverStream()');
    expect(served()).toBe(0);
  });

  it('a stream call of the wrong shape fails at once, in the loop or the promise', async () => {
    const { client, served } = await rig();
    const asClient = await failureOf(client.clientStream('Streams', 'ticks', [{ tag: 'x' }]));
    expect(asClient.message).toContain('was called with clientStream()');
    const asServer = await failureOf(async () => {
      for await (const _ of client.serverStream('Streams', 'sum', {})) break;
    });
    expect(asServer).toMatchObject({ code: 'UNIMPLEMENTED', message: expect.stringContaining('Streams.sum is a client stream') });
    expect(served()).toBe(0);
  });

  it('a method the schema gives no shape (a descriptor from before the field) is not refused: the server decides', async () => {
    const { client, served } = await rig();
    expect(await client.clientStream('Streams', 'drink', ['0abc', '1abc'])).toEqual({ count: 2, chars: 8, whole: true });
    expect(served()).toBe(1);
  });

  it('the declared shape goes through, with the schema’s codec', async () => {
    const { client, served } = await rig();
    const ticks: number[] = [];
    for await (const tick of client.serverStream<{ i: number }>('Streams', 'ticks', { tag: 'ok', n: 3, everyMs: 1 })) ticks.push(tick.i);
    expect(ticks).toEqual([0, 1, 2]);
    expect(await client.clientStream('Streams', 'sum', [{ n: 2 }, { n: 3 }])).toBe(5);
    expect(served()).toBe(2);
  });

  it('a server with the schemas refuses a stream of another shape before its handler, for clients without them', async () => {
    const { client, served } = await rig(false);
    const unary = await failureOf(client.invoke('Streams', 'ticks', { tag: 'x', n: 1 }));
    expect(unary).toMatchObject({ code: 'UNIMPLEMENTED', message: expect.stringContaining('Streams.ticks is a server stream') });
    const asServer = await failureOf(async () => {
      for await (const _ of client.serverStream('Streams', 'sum', { n: 1 })) break;
    });
    expect(asServer).toMatchObject({ code: 'UNIMPLEMENTED', progress: 'refused', message: expect.stringContaining('Streams.sum is a client stream') });
    // Both reach the filters, as any refusal does (a log or an auth filter sees them); no handler runs.
    expect(served()).toBe(2);
  });
});
