import { describe, expect, it } from 'vitest';
import { Client, Method, Server, Service, inproc, jsonCodec, schemaCodecs, schemaJsonCodec, silentLogger, staticRegistry, type ServiceSchema } from '../src/index.js';

const schema: ServiceSchema = {
  schemaVersion: 1,
  service: 'Vault',
  package: 'vault',
  methods: [
    { name: 'put', request: 'Item', response: 'Item' },
    { name: 'count', request: null, response: 'CountResponse', responseWrapped: true },
  ],
  messages: [
    {
      name: 'Item',
      fields: [
        { name: 'id', no: 1, type: { kind: 'scalar', scalar: 'uint64' } },
        { name: 'at', no: 2, type: { kind: 'timestamp' } },
        { name: 'blob', no: 3, type: { kind: 'scalar', scalar: 'bytes' } },
        { name: 'owners', no: 4, type: { kind: 'map', key: 'int64', value: { kind: 'scalar', scalar: 'string' }, js: 'map' } },
        { name: 'kind', no: 5, type: { kind: 'enum', name: 'Kind' } },
        { name: 'note', no: 6, type: { kind: 'scalar', scalar: 'string' }, optional: true },
      ],
    },
    { name: 'CountResponse', fields: [{ name: 'value', no: 1, type: { kind: 'scalar', scalar: 'int64' } }] },
  ],
  enums: [{ name: 'Kind', values: [{ name: 'KIND_UNSPECIFIED', no: 0 }, { name: 'KIND_HOT', no: 1, value: 'hot' }, { name: 'KIND_COLD', no: 2, value: 'cold' }] }],
};

const item = () => ({
  id: 2n ** 64n - 1n,
  at: new Date('1999-12-31T23:59:59.999Z'),
  blob: Buffer.from([1, 2, 255]),
  owners: new Map([[-5n, 'eve']]),
  kind: 'cold',
});

describe('schemaJsonCodec', () => {
  const codec = schemaJsonCodec({ schemas: [schema] });

  it('replaces the built-in JSON codec by name, and is plain JSON for services without a schema', () => {
    expect(codec.name).toBe('json');
    const other = codec.forMethod('Other', 'x')!;
    expect(other.decodeRequest(other.encodeRequest({ n: 1 }))).toEqual({ n: 1 });
  });

  it('carries bigint, Date, bytes and Maps as JSON, readable by anyone', () => {
    const put = codec.forMethod('Vault', 'put')!;
    const bytes = put.encodeRequest(item());
    expect(JSON.parse(Buffer.from(bytes).toString())).toEqual({
      id: '18446744073709551615',
      at: '1999-12-31T23:59:59.999Z',
      blob: 'AQL/',
      owners: { '-5': 'eve' },
      kind: 'cold',
    });
    expect(put.decodeRequest(bytes)).toEqual({ ...item(), blob: new Uint8Array([1, 2, 255]) });
    const count = codec.forMethod('Vault', 'count')!;
    expect(count.decodeResponse(count.encodeResponse(7n))).toBe(7n);
  });

  it.each([
    [{ id: -1, at: '2020-01-01T00:00:00Z', blob: '', owners: {}, kind: 'hot' }, 'Vault.put: request.id expected a bigint from 0'],
    [{ id: '1', at: 'yesterday', blob: '', owners: {}, kind: 'hot' }, 'request.at expected a valid Date, got an invalid Date'],
    [{ id: '1', at: '2020-01-01T00:00:00Z', blob: '', owners: { x: 'y' }, kind: 'hot' }, 'request.owners["x"] expected a bigint'],
    [{ id: '1', at: '2020-01-01T00:00:00Z', blob: '', owners: {}, kind: 'warm' }, 'request.kind expected one of "hot", "cold", got "warm"'],
    [{ id: '1', blob: '', owners: {}, kind: 'hot' }, 'request.at is required (Date)'],
  ])('refuses %o from a plain JSON caller, naming the field', (body, message) => {
    const put = codec.forMethod('Vault', 'put')!;
    expect(() => put.decodeRequest(Buffer.from(JSON.stringify(body)))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(message) }));
  });
});

describe('schemaJsonCodec: absent wrapped values', () => {
  it('sends an undefined optional or nullable wrapped value as an empty body, and reads it back (fuzz-codec-schema-json found the TypeError)', () => {
    const wrappedSchema: ServiceSchema = {
      schemaVersion: 1,
      service: 'Maybe',
      package: 'maybe',
      methods: [{ name: 'find', request: 'FindRequest', response: 'FindResponse', requestWrapped: true, responseWrapped: true }],
      messages: [
        { name: 'FindRequest', fields: [{ name: 'value', no: 1, type: { kind: 'scalar', scalar: 'string' }, optional: true }] },
        { name: 'FindResponse', fields: [{ name: 'value', no: 1, type: { kind: 'scalar', scalar: 'string' }, nullable: true }] },
      ],
      enums: [],
    };
    const find = schemaJsonCodec([wrappedSchema]).forMethod('Maybe', 'find')!;
    expect(find.encodeRequest(undefined)).toHaveLength(0);
    expect(find.decodeRequest(find.encodeRequest(undefined))).toBeUndefined();
    expect(find.encodeResponse(undefined)).toHaveLength(0);
    expect(find.decodeResponse(find.encodeResponse(null))).toBeNull();
    expect(find.decodeRequest(find.encodeRequest('x'))).toBe('x');
  });
});

@Service('Vault')
class Vault {
  calls = 0;
  @Method()
  async put(x: ReturnType<typeof item>): Promise<ReturnType<typeof item>> {
    this.calls++;
    return x;
  }
}

describe('schemaJsonCodec on a Server', () => {
  it('validates plain JSON requests before the handler runs', async () => {
    const transport = inproc();
    const vault = new Vault();
    const server = new Server({ transport, codecs: [schemaJsonCodec([schema])], logger: silentLogger }).register(vault);
    await server.listen('inproc://vault');
    const registry = staticRegistry({ Vault: ['inproc://vault'] });
    const typed = new Client({ transport, registry, codecs: [schemaJsonCodec([schema])] });
    expect(await typed.invoke('Vault', 'put', item())).toEqual({ ...item(), blob: new Uint8Array([1, 2, 255]) });
    const untyped = new Client({ transport, registry, codecs: [jsonCodec()] });
    await expect(untyped.invoke('Vault', 'put', { id: 1.5, at: '2020-01-01T00:00:00Z', blob: '', owners: {}, kind: 'hot' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('Vault.put: request.id expected a bigint'),
    });
    expect(vault.calls).toBe(1);
    await typed.close();
    await untyped.close();
    await server.close();
  });
});

describe('schemaCodecs', () => {
  it('gives protobuf to typed clients and checked JSON to untyped ones, on one server', async () => {
    const transport = inproc();
    const vault = new Vault();
    const server = new Server({ transport, codecs: schemaCodecs([schema]), logger: silentLogger }).register(vault);
    await server.listen('inproc://vault-both');
    const registry = staticRegistry({ Vault: ['inproc://vault-both'] });
    const codecs = schemaCodecs([schema]);
    expect(codecs.map((c) => c.name)).toEqual(['protobuf', 'json']);
    // The client takes the first codec that carries a method: protobuf for Vault.
    expect(codecs[0]!.forMethod('Vault', 'put')).toBeDefined();
    const typed = new Client({ transport, registry, codecs });
    expect(await typed.invoke('Vault', 'put', item())).toEqual({ ...item(), blob: new Uint8Array([1, 2, 255]) });
    const untyped = new Client({ transport, registry });
    await expect(untyped.invoke('Vault', 'put', { id: 'x' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('request.id') });
    expect(vault.calls).toBe(1);
    await typed.close();
    await untyped.close();
    await server.close();
  });
});
