import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { toProtobufJson } from '../src/index.js';
import { Client, Method, Server, Service, inproc, jsonCodec, protobufCodec, silentLogger, staticRegistry, type ServiceSchema } from '../src/index.js';

// A schema as svc-gen writes it (see packages/codegen's golden corpus for the generated ones).
const schema: ServiceSchema = {
  schemaVersion: 1,
  service: 'Ledger',
  package: 'ledger',
  methods: [
    { name: 'post', request: 'Entry', response: 'Receipt' },
    { name: 'balance', request: 'BalanceRequest', response: 'BalanceResponse', requestWrapped: true, responseWrapped: true },
    { name: 'reset', request: null, response: null },
  ],
  messages: [
    {
      name: 'Entry',
      fields: [
        { name: 'account', no: 1, type: { kind: 'scalar', scalar: 'string' } },
        { name: 'cents', no: 2, type: { kind: 'scalar', scalar: 'sint64' } },
        { name: 'at', no: 3, type: { kind: 'timestamp' } },
        { name: 'side', no: 4, type: { kind: 'enum', name: 'Side' } },
        { name: 'tags', no: 5, type: { kind: 'map', key: 'uint64', value: { kind: 'scalar', scalar: 'string' }, js: 'map' } },
        { name: 'memo', no: 6, type: { kind: 'scalar', scalar: 'string' }, optional: true },
        { name: 'lines', no: 7, type: { kind: 'list', element: { kind: 'message', name: 'Line' } } },
      ],
    },
    { name: 'Line', fields: [{ name: 'qty', no: 1, type: { kind: 'scalar', scalar: 'uint32' } }] },
    { name: 'Receipt', fields: [{ name: 'id', no: 1, type: { kind: 'scalar', scalar: 'int64' } }, { name: 'note', no: 2, type: { kind: 'scalar', scalar: 'string' }, nullable: true }] },
    { name: 'BalanceRequest', fields: [{ name: 'value', no: 1, type: { kind: 'scalar', scalar: 'string' } }] },
    { name: 'BalanceResponse', fields: [{ name: 'value', no: 1, type: { kind: 'scalar', scalar: 'int64' }, nullable: true }] },
  ],
  enums: [{ name: 'Side', values: [{ name: 'SIDE_UNSPECIFIED', no: 0 }, { name: 'SIDE_DEBIT', no: 1, value: 'debit' }, { name: 'SIDE_CREDIT', no: 2, value: 'credit' }] }],
};

const entry = () => ({
  account: 'acme',
  cents: -(2n ** 63n),
  at: new Date(-1),
  side: 'credit',
  tags: new Map([[2n ** 64n - 1n, 'max'], [0n, 'zero']]),
  lines: [{ qty: 0 }, { qty: 4294967295 }],
});

describe('protobufCodec', () => {
  const codec = protobufCodec({ schemas: [schema] });
  const post = codec.forMethod('Ledger', 'post')!;

  it('answers only for the services and methods of its schemas', () => {
    expect(codec.name).toBe('protobuf');
    expect(codec.forMethod('Other', 'post')).toBeUndefined();
    expect(codec.forMethod('Ledger', 'nope')).toBeUndefined();
    expect(codec.forMethod('Ledger', 'post')).toBe(post);
  });

  it('round-trips bigint, Date before 1970, enums, Maps with 64-bit keys, and omits what is unset', () => {
    const back = post.decodeRequest(post.encodeRequest(entry())) as Record<string, unknown>;
    expect(back).toEqual(entry());
    expect('memo' in back).toBe(false);
    const receipt = post.decodeResponse(post.encodeResponse({ id: 7n, note: null }));
    expect(receipt).toEqual({ id: 7n, note: null });
  });

  it('writes what protobufjs reflection reads, and reads what it writes (same schema as protobufjs JSON)', () => {
    const Entry = protobuf.Root.fromJSON(toProtobufJson(schema)).lookupType('ledger.Entry');
    const ours = Entry.toObject(Entry.decode(post.encodeRequest({ ...entry(), tags: new Map(), memo: '' })), { longs: String, enums: String });
    expect(ours).toEqual({
      account: 'acme',
      cents: '-9223372036854775808',
      at: { seconds: '-1', nanos: 999_000_000 },
      side: 'SIDE_CREDIT',
      lines: [{}, { qty: 4294967295 }],
      memo: '',
    });
    const theirs = Entry.encode(Entry.fromObject({ account: 'x', cents: '-5', at: { seconds: 10, nanos: 5_000_000 }, side: 2, lines: [{ qty: 7 }], tags: { '18446744073709551615': 'max' } })).finish();
    expect(post.decodeRequest(theirs)).toEqual({ account: 'x', cents: -5n, at: new Date(10_005), side: 'credit', lines: [{ qty: 7 }], tags: new Map([[2n ** 64n - 1n, 'max']]) });
  });

  it('reads large bytes as a view of what arrived and small ones as a copy, so a value never holds more than twice its size', () => {
    const blobs = protobufCodec({
      schemas: [{ schemaVersion: 1, service: 'Blobs', package: 'blobs', methods: [{ name: 'put', request: 'Blob', response: 'Blob' }], messages: [{ name: 'Blob', fields: [{ name: 'data', no: 1, type: { kind: 'scalar', scalar: 'bytes' } }] }], enums: [] }],
    }).forMethod('Blobs', 'put')!;
    const big = new Uint8Array(64 * 1024).map((_, i) => i & 0xff);
    // As a transport hands it over: the body inside a larger read, with other bytes around it.
    const wire = blobs.encodeRequest({ data: big });
    const read = new Uint8Array(wire.length + 100);
    read.set(wire, 50);
    const large = (blobs.decodeRequest(read.subarray(50, 50 + wire.length)) as { data: Uint8Array }).data;
    expect(large).toEqual(big);
    expect(Buffer.isBuffer(large)).toBe(false);
    expect(large.buffer).toBe(read.buffer); // no copy: it fills most of what arrived
    const small = (blobs.decodeRequest(new Uint8Array([...blobs.encodeRequest({ data: new Uint8Array([1, 2, 3]) }), ...new Uint8Array(64)]).subarray(0, 5)) as { data: Uint8Array }).data;
    expect(small).toEqual(new Uint8Array([1, 2, 3]));
    expect(small.buffer.byteLength).toBe(3); // copied out: it would have kept 69 bytes alive
  });

  it('encodes into a buffer of its own each time, never more than twice the body, and never writes to it again', () => {
    const blobs = protobufCodec({
      schemas: [{ schemaVersion: 1, service: 'Blobs', package: 'blobs', methods: [{ name: 'put', request: 'Blob', response: 'Blob' }], messages: [{ name: 'Blob', fields: [{ name: 'data', no: 1, type: { kind: 'scalar', scalar: 'bytes' } }, { name: 'note', no: 2, type: { kind: 'scalar', scalar: 'string' } }] }], enums: [] }],
    }).forMethod('Blobs', 'put')!;
    // Above 4 KiB, so no size comes from Node's shared pool: every buffer is the encode's own.
    for (const size of [5_000, 40_000, 64 * 1024, 70_000, 200_000]) {
      const data = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
      const first = blobs.encodeRequest({ data, note: 'first' });
      const second = blobs.encodeRequest({ data, note: 'second' });
      expect(first.buffer).not.toBe(second.buffer);
      expect(first.buffer.byteLength).toBeLessThanOrEqual(2 * first.length);
      const copy = Uint8Array.from(first);
      blobs.encodeRequest({ data: new Uint8Array(size), note: 'third' });
      expect(Uint8Array.from(first)).toEqual(copy);
      expect(blobs.decodeRequest(first)).toEqual({ data, note: 'first' });
    }
  });

  it('wraps scalar requests and responses, and carries void as an empty body', () => {
    const balance = codec.forMethod('Ledger', 'balance')!;
    expect(balance.decodeRequest(balance.encodeRequest('acme'))).toBe('acme');
    expect(balance.decodeResponse(balance.encodeResponse(0n))).toBe(0n);
    expect(balance.decodeResponse(balance.encodeResponse(null))).toBeNull();
    const reset = codec.forMethod('Ledger', 'reset')!;
    expect(reset.encodeRequest(undefined)).toHaveLength(0);
    expect(reset.decodeResponse(new Uint8Array(0))).toBeUndefined();
  });

  it.each([
    [{ ...entry(), account: 5 }, 'Ledger.post: request.account expected a string, got 5'],
    [{ ...entry(), cents: 1 }, 'request.cents expected a bigint'],
    [{ ...entry(), cents: 2n ** 63n }, 'request.cents expected a bigint from -9223372036854775808 to 9223372036854775807 (sint64), got 9223372036854775808n'],
    [{ ...entry(), at: new Date(NaN) }, 'request.at expected a valid Date, got an invalid Date'],
    [{ ...entry(), side: 'sideways' }, 'request.side expected one of "debit", "credit", got "sideways"'],
    [{ ...entry(), tags: new Map([[-1n, 'x']]) }, 'request.tags["-1"] expected a bigint from 0'],
    [{ ...entry(), lines: [{ qty: 1 }, { qty: -1 }] }, 'request.lines[1].qty expected an integer from 0 to 4294967295 (uint32), got -1'],
    [{ ...entry(), lines: [null] }, 'request.lines[0] array elements cannot be null or undefined'],
    [{ ...entry(), at: undefined }, 'request.at is required (Date)'],
  ])('refuses %o naming the field', (value, message) => {
    let error: unknown;
    try {
      post.encodeRequest(value);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(message) });
  });

  it('reports a bad response as INTERNAL, not as the caller\'s fault', () => {
    expect(() => post.encodeResponse({ id: 'x' })).toThrow(expect.objectContaining({ code: 'INTERNAL', message: expect.stringContaining('response.id expected a bigint') }));
  });

  it('refuses schemas of another format version', () => {
    expect(() => protobufCodec([{ ...schema, schemaVersion: 2 as 1 }])).toThrow(/format version 2/);
  });
});

@Service('Ledger')
class Ledger {
  calls = 0;
  @Method()
  async post(entry: { cents: bigint }): Promise<{ id: bigint; note: string | null }> {
    this.calls++;
    return { id: entry.cents, note: null };
  }
}

describe('protobufCodec in a Server and a Client', () => {
  it('is used when the client lists it, and JSON clients still work untyped', async () => {
    const transport = inproc();
    const ledger = new Ledger();
    const server = new Server({ transport, codecs: [protobufCodec([schema])], logger: silentLogger }).register(ledger);
    await server.listen('inproc://ledger');
    const registry = staticRegistry({ Ledger: ['inproc://ledger'] });
    const client = new Client({ transport, registry, codecs: [protobufCodec([schema])] });
    expect(await client.invoke('Ledger', 'post', entry())).toEqual({ id: -(2n ** 63n), note: null });
    const json = new Client({ transport, registry, codecs: [jsonCodec()] });
    expect(await json.invoke('Ledger', 'post', { cents: 1 }, {})).toEqual({ id: 1, note: null });
    await expect(client.invoke('Ledger', 'post', { ...entry(), side: 'up' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(ledger.calls).toBe(2);
    await client.close();
    await json.close();
    await server.close();
  });
});

describe('protobufCodec against hostile input', () => {
  const tree: ServiceSchema = {
    schemaVersion: 1,
    service: 'Trees',
    package: 'trees',
    methods: [{ name: 'put', request: 'Node', response: null }],
    messages: [{ name: 'Node', fields: [{ name: 'children', no: 1, type: { kind: 'list', element: { kind: 'message', name: 'Node' } } }] }],
    enums: [],
  };
  const put = protobufCodec([tree]).forMethod('Trees', 'put')!;

  it('reads nesting it can handle', () => {
    expect(put.decodeRequest(put.encodeRequest({ children: [{ children: [{ children: [] }] }] }))).toEqual({ children: [{ children: [{ children: [] }] }] });
  });

  it('refuses a value that refers to itself', () => {
    const cycle: { children: unknown[] } = { children: [] };
    cycle.children.push(cycle);
    expect(() => put.encodeRequest(cycle)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('Trees.put: the request is nested too deeply or refers to itself') }));
  });

  it('answers INVALID_ARGUMENT, without crashing, to nesting deeper than the stack', () => {
    // 200,000 levels of children { children { ... } }, built from the inside out.
    let inner = Buffer.alloc(0);
    const varint = (n: number): number[] => {
      const out: number[] = [];
      while (n > 127) {
        out.push((n & 127) | 128);
        n >>>= 7;
      }
      out.push(n);
      return out;
    };
    const parts: Buffer[] = [];
    let length = 0;
    for (let i = 0; i < 200_000; i++) {
      const head = Buffer.from([0x0a, ...varint(length)]);
      parts.push(head);
      length += head.length;
    }
    inner = Buffer.concat(parts.reverse());
    expect(() => put.decodeRequest(inner)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('Trees.put: the request body is not a valid protobuf Node') }));
  });
});
