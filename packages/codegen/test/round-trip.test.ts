import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client, Server, inproc, protobufCodec, schemaJsonCodec, silentLogger, staticRegistry, type Codec, type Transport } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { Catalog, type Everything } from './fixtures/corpus/src/catalog.js';
import { everything, everythingElse } from './fixtures/values.js';
import { AdminConsole } from './fixtures/corpus/src/admin.js';
import { AdminConsoleClient, CatalogClient, schemas } from './fixtures/corpus/src/generated/index.js';

const transports: [string, () => Transport, string][] = [['inproc', () => inproc(), 'inproc://catalog']];
if (existsSync(new URL('../../transport-tcp/dist/index.js', import.meta.url))) transports.push(['tcp', () => tcp(), 'tcp://127.0.0.1:0']);

describe.each(transports)('round trip of every mapped type over %s', (_name, makeTransport, listenAddress) => {
  let server: Server;
  let client: Client;
  let catalog: CatalogClient;
  let transport: Transport;
  const impl = new Catalog();
  const echo = vi.spyOn(impl, 'echo');

  beforeAll(async () => {
    transport = makeTransport();
    server = new Server({ transport, codecs: [protobufCodec({ schemas })], logger: silentLogger }).register(impl).register(new AdminConsole());
    const address = await server.listen(listenAddress);
    client = new Client({ transport, registry: staticRegistry({ Catalog: [address], AdminConsole: [address] }), codecs: [protobufCodec({ schemas })] });
    catalog = new CatalogClient(client);
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('returns every value equal (bigint extremes, dates, nested optionals, empty arrays, maps, oneofs, recursion)', async () => {
    expect(await catalog.echo(everything())).toEqual(everything());
    expect(await catalog.echo(everythingElse())).toEqual(everythingElse());
  });

  it('keeps null and undefined apart where the type says which', async () => {
    const back = await catalog.echo(everything());
    expect(back.nul).toBeNull();
    expect('opt' in back).toBe(false);
    expect(back.byId.get(-(2n ** 63n))).toBe('min');
    expect(back.when).toBeInstanceOf(Date);
  });

  it('carries wrapped scalars, void and nullable results', async () => {
    expect(await catalog.count({ items: [{ x: 1, y: 2 }, { x: 3, y: 4 }], total: 2 })).toBe(2);
    expect(await catalog.ping()).toBeUndefined();
    expect(await catalog.lookupShape('none')).toBeNull();
    expect(await catalog.lookupShape('any')).toEqual({ kind: 'circle', center: { x: 1, y: 2 }, radius: 3 });
    await expect(catalog.lookupShape('bad')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'no shape bad' });
  });

  it('serves several services, inherited methods included', async () => {
    const admin = new AdminConsoleClient(client);
    expect(await admin.health()).toEqual({ ok: true, since: new Date(0) });
    expect(await admin.audit({ since: new Date(86_400_000) })).toEqual({ items: ['1970-01-02T00:00:00.000Z'], total: 1 });
    await expect(admin.audit({ since: new Date(0), limit: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('request.limit expected an integer from 0') });
  });

  it('refuses a bad request on the client, naming the field', async () => {
    const bad = { ...everything(), points: [{ x: 1, y: 'two' }] } as unknown as Everything;
    await expect(catalog.echo(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('request.points[0].y expected a number (double), got "two"') });
    const float = { ...everything(), i32: 1.5 } as Everything;
    await expect(catalog.echo(float)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('request.i32 expected an integer') });
    const tag = { ...everything(), shape: { kind: 'triangle' } } as unknown as Everything;
    await expect(catalog.echo(tag)).rejects.toMatchObject({ message: expect.stringContaining('request.shape.kind expected one of "circle", "square", "label", got "triangle"') });
  });

  it('validates on the server before the handler runs: INVALID_ARGUMENT with the field path', async () => {
    const good = protobufCodec({ schemas }).forMethod('Catalog', 'echo')!.encodeRequest(everything());
    // A client that sends whatever bytes it is given, as another language's client might.
    const raw = (bytes: Uint8Array): Codec => ({
      name: 'protobuf',
      forMethod: () => ({ encodeRequest: () => bytes, decodeRequest: () => undefined, encodeResponse: () => new Uint8Array(0), decodeResponse: () => undefined }),
    });
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'Catalog.echo: request.when is required (Date) but missing'],
      // field 26 (color) = 7, after the good bytes: the last value wins, and 7 is no Color.
      [Buffer.concat([good, Buffer.from([0xd0, 0x01, 7])]), 'Catalog.echo: request.color the number 7 is not a value of the enum Color'],
      [Uint8Array.from([0x0a, 0xff]), 'Catalog.echo: the request body is not a valid protobuf Everything'],
    ];
    const calls = echo.mock.calls.length;
    for (const [bytes, message] of cases) {
      const rawClient = new Client({ transport, registry: staticRegistry({ Catalog: server.addresses }), codecs: [raw(bytes)] });
      try {
        await expect(rawClient.invoke('Catalog', 'echo', {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(message) });
      } finally {
        await rawClient.close();
      }
    }
    expect(echo.mock.calls.length).toBe(calls);
  });
});

describe('round trip of every mapped type as schema-aware JSON over inproc', () => {
  it('returns every value equal, and refuses bad JSON from an untyped caller with the field path', async () => {
    const transport = inproc();
    const server = new Server({ transport, codecs: [protobufCodec({ schemas }), schemaJsonCodec({ schemas })], logger: silentLogger }).register(new Catalog());
    const address = await server.listen('inproc://catalog-json');
    const registry = staticRegistry({ Catalog: [address] });
    const client = new Client({ transport, registry, codecs: [schemaJsonCodec({ schemas })] });
    const untyped = new Client({ transport, registry });
    try {
      const catalog = new CatalogClient(client);
      expect(await catalog.echo(everything())).toEqual(everything());
      expect(await catalog.echo(everythingElse())).toEqual(everythingElse());
      expect(await catalog.lookupShape('none')).toBeNull();
      const json = JSON.parse(JSON.stringify(everything(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Map ? {} : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v)));
      await expect(untyped.invoke('Catalog', 'echo', { ...json, shape: { kind: 'hexagon' } })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('Catalog.echo: request.shape.kind expected one of "circle", "square", "label", got "hexagon"'),
      });
    } finally {
      await client.close();
      await untyped.close();
      await server.close();
    }
  });
});
