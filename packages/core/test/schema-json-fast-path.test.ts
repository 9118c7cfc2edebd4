import { describe, expect, it } from 'vitest';
import { INVALID, SchemaJsonCompiler } from '../src/codec/schema-json-compiler.js';
import { RpcError, schemaJsonCodec, type ServiceSchema } from '../src/index.js';

const schema: ServiceSchema = {
  schemaVersion: 1,
  service: 'Shop',
  package: 'shop',
  methods: [
    { name: 'order', request: 'Order', response: 'Order' },
    { name: 'rename', request: 'RenameRequest', response: 'RenameRequest', requestWrapped: true, responseWrapped: true },
    { name: 'ledger', request: 'Ledger', response: 'Ledger' },
  ],
  messages: [
    {
      name: 'Order',
      fields: [
        { name: 'id', no: 1, type: { kind: 'scalar', scalar: 'string' } },
        { name: 'customer', no: 2, type: { kind: 'message', name: 'Customer' } },
        { name: 'lines', no: 3, type: { kind: 'list', element: { kind: 'message', name: 'Line' } } },
        { name: 'tags', no: 4, type: { kind: 'list', element: { kind: 'scalar', scalar: 'string' } } },
        { name: 'total', no: 5, type: { kind: 'scalar', scalar: 'double' } },
        { name: 'placedAt', no: 6, type: { kind: 'timestamp' } },
        { name: 'status', no: 7, type: { kind: 'enum', name: 'Status' } },
        { name: 'paid', no: 8, type: { kind: 'scalar', scalar: 'bool' } },
        { name: 'note', no: 9, type: { kind: 'scalar', scalar: 'string' }, optional: true },
        { name: 'parent', no: 10, type: { kind: 'message', name: 'Order' }, optional: true },
        { name: 'count', no: 11, type: { kind: 'scalar', scalar: 'uint32' } },
      ],
    },
    {
      name: 'Customer',
      fields: [
        { name: 'id', no: 1, type: { kind: 'scalar', scalar: 'int32' } },
        { name: 'name', no: 2, type: { kind: 'scalar', scalar: 'string' } },
      ],
    },
    {
      name: 'Line',
      fields: [
        { name: 'sku', no: 1, type: { kind: 'scalar', scalar: 'string' } },
        { name: 'qty', no: 2, type: { kind: 'scalar', scalar: 'sint32' } },
      ],
    },
    { name: 'RenameRequest', fields: [{ name: 'value', no: 1, type: { kind: 'scalar', scalar: 'string' } }] },
    { name: 'Ledger', fields: [{ name: 'balance', no: 1, type: { kind: 'scalar', scalar: 'int64' } }] },
  ],
  enums: [{ name: 'Status', values: [{ name: 'STATUS_UNSPECIFIED', no: 0 }, { name: 'STATUS_OPEN', no: 1, value: 'open' }, { name: 'STATUS_DONE', no: 2, value: 'done' }] }],
};

const order = () => ({
  id: 'A-1',
  customer: { id: -42, name: 'Zoë "Z" Ångström\n\ud83d\ude00' },
  lines: [
    { sku: 'X'.repeat(60), qty: 3 },
    { sku: 'Y', qty: -1 },
  ],
  tags: ['a', 'b\\c', ''],
  total: 12.5e-7,
  placedAt: new Date('2026-11-22T08:00:00.123Z'),
  status: 'done',
  paid: false,
  count: 4294967295,
});

describe('compiled schema JSON', () => {
  const compiled = new SchemaJsonCompiler(schema).compile('Order', false)!;

  it('covers messages of strings, numbers, booleans, enums, dates, lists and nested messages', () => {
    expect(compiled).toBeDefined();
    expect(new SchemaJsonCompiler(schema).compile('RenameRequest', true)).toBeDefined();
    // A 64-bit integer (bigint) has no fast path: the message is left to the exact path.
    expect(new SchemaJsonCompiler(schema).compile('Ledger', false)).toBeUndefined();
  });

  it('writes the bytes JSON.stringify writes, escapes and all', () => {
    expect(Buffer.from(compiled.encode(order())!).toString()).toBe(JSON.stringify(order()));
    // Keys come in schema order; JSON.stringify follows the object's own order.
    const value = { ...order(), note: 'tab\there', parent: { ...order(), id: 'P' } };
    expect(JSON.parse(Buffer.from(compiled.encode(value)!).toString())).toEqual(JSON.parse(JSON.stringify(value)));
  });

  it('leaves out an optional field set to undefined, as JSON.stringify does', () => {
    const value = { ...order(), note: undefined, parent: undefined };
    expect(Buffer.from(compiled.encode(value)!).toString()).toBe(JSON.stringify(order()));
    // A required field set to undefined is for the exact path to refuse.
    expect(compiled.encode({ ...order(), id: undefined })).toBeUndefined();
  });

  it('passes what JSON.parse made of its bytes, with Dates revived', () => {
    const parsed = JSON.parse(Buffer.from(compiled.encode(order())!).toString());
    const checked = compiled.check(parsed);
    expect(checked).toBe(parsed);
    expect(checked).toEqual(order());
    expect((checked as { placedAt: unknown }).placedAt).toBeInstanceOf(Date);
  });

  it.each([
    ['a null optional field', { ...order(), note: null }],
    ['an extra property', { ...order(), extra: 1 }],
    ['a missing required field', (({ id: _id, ...rest }) => rest)(order())],
    ['a string where a number belongs', { ...order(), total: '12' }],
    ['NaN', { ...order(), total: NaN }],
    ['a fraction in an int32', { ...order(), customer: { id: 1.5, name: 'x' } }],
    ['an int32 out of range', { ...order(), customer: { id: 2 ** 31, name: 'x' } }],
    ['a negative uint32', { ...order(), count: -1 }],
    ['an unknown enum value', { ...order(), status: 'lost' }],
    ['an invalid Date', { ...order(), placedAt: new Date('nope') }],
    ['a null list element', { ...order(), tags: ['a', null] }],
    ['a toJSON method', { ...order(), toJSON: () => 'x' }],
  ])('leaves %s to the exact path', (_what, value) => {
    expect(compiled.encode(value)).toBeUndefined();
  });

  it.each([
    ['a fraction in an int32', { customer: { id: -42.5, name: 'x' } }],
    ['an int32 out of range', { customer: { id: 2 ** 31, name: 'x' } }],
    ['a negative uint32', { count: -1 }],
    ['a string where a number belongs', { total: '12' }],
    ['a null where the schema has no null', { paid: null }],
    ['a missing required field', { id: undefined }],
    ['an unknown enum value', { status: 'lost' }],
    ['a date that is not one', { placedAt: 'yesterday' }],
    ['a list that is not one', { tags: 'a' }],
    ['a null list element', { tags: ['a', null] }],
    ['a line that is not an object', { lines: [1] }],
  ])('gives up on %s for the exact path to name', (_what, change) => {
    const parsed = JSON.parse(JSON.stringify({ ...order(), ...change }));
    expect(compiled.check(parsed)).toBe(INVALID);
  });

  it('passes a null optional field and properties the schema does not name, as the exact path does', () => {
    const parsed = JSON.parse(JSON.stringify({ ...order(), note: null, extra: 1 }));
    expect(compiled.check(parsed)).toEqual({ ...order(), note: null, extra: 1 });
  });

  it('keeps the bytes it returned: later values never overwrite them', () => {
    const kept = Array.from({ length: 300 }, (_, i) => ({ value: { ...order(), id: `id-${i}` }, bytes: compiled.encode({ ...order(), id: `id-${i}` })! }));
    for (const { value, bytes } of kept) expect(Buffer.from(bytes).toString()).toBe(JSON.stringify(value));
  });

  it('grows for a value larger than its slab', () => {
    const big = { ...order(), tags: Array.from({ length: 5000 }, (_, i) => `tag-${i}`) };
    const bytes = compiled.encode(big)!;
    expect(Buffer.from(bytes).toString()).toBe(JSON.stringify(big));
    // The grown slab is let go: the next value starts on a slab of the usual size.
    expect(bytes.buffer.byteLength).toBeGreaterThan(64 * 1024);
    expect(compiled.encode(order())!.buffer.byteLength).toBe(64 * 1024);
  });
});

describe('schemaJsonCodec with the fast path', () => {
  const codec = schemaJsonCodec({ schemas: [schema] });
  const orderMethod = codec.forMethod('Shop', 'order')!;

  it('gives every caller the same values, whichever path the text takes', () => {
    const fast = orderMethod.encodeRequest(order());
    const spaced = Buffer.from(JSON.stringify(order(), null, 2));
    expect(orderMethod.decodeRequest(fast)).toEqual(order());
    expect(orderMethod.decodeRequest(spaced)).toEqual(order());
  });

  it('refuses bad values with the same errors as the exact path: they name the field', () => {
    const bad = { ...order(), customer: { id: 1.5, name: 'x' } };
    expect(() => orderMethod.encodeRequest(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('request.customer.id expected an integer') }));
    const text = Buffer.from(JSON.stringify(order()).replace('"id":-42', '"id":-42.5'));
    let error: unknown;
    try {
      orderMethod.decodeRequest(text);
    } catch (e) {
      error = e;
    }
    expect(RpcError.is(error) && error.message).toContain('request.customer.id expected an integer');
  });

  it('still sends extra properties and explicit nulls as JSON.stringify does', () => {
    const value = { ...order(), note: null, extra: [1] };
    expect(JSON.parse(Buffer.from(orderMethod.encodeRequest(value)).toString())).toEqual(JSON.parse(JSON.stringify(value)));
  });

  it('carries a wrapped value (a method taking a string) on the fast path', () => {
    const rename = codec.forMethod('Shop', 'rename')!;
    const bytes = rename.encodeRequest('new "name"');
    expect(Buffer.from(bytes).toString()).toBe('"new \\"name\\""');
    expect(rename.decodeRequest(bytes)).toBe('new "name"');
    expect(() => rename.encodeRequest(5)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('compiled schema JSON against JSON.stringify, on random values', () => {
  // A seeded generator, so that a failure names a case that can be run again.
  let seed = 20261122;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const pieces = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\u0001', '\u007f', 'é', '漢', '😀', '\ud800', '\udfff', 'x'.repeat(20)];
  const text = (): string => Array.from({ length: Math.floor(random() * 12) }, () => pick(pieces)).join('');
  const double = (): number => pick([0, -0, 1.5, -2.25e-7, 1e21, 5e-324, 2 ** 53, -(2 ** 31) - 1, 98.625, Math.PI]);
  const int32 = (): number => pick([0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 48213, -7]);
  const line = () => ({ sku: text(), qty: int32() });
  const value = () => {
    const v: Record<string, unknown> = {
      id: text(),
      customer: { id: int32(), name: text() },
      lines: Array.from({ length: Math.floor(random() * 4) }, line),
      tags: Array.from({ length: Math.floor(random() * 4) }, text),
      total: double(),
      placedAt: new Date(Math.floor(random() * 4e12)),
      status: pick(['open', 'done']),
      paid: random() < 0.5,
      count: pick([0, 1, 4294967295, 65536]),
    };
    if (random() < 0.5) v['note'] = text();
    if (random() < 0.3) v['parent'] = { ...v, id: text() };
    return v;
  };

  it('writes the same JSON as JSON.stringify for 500 values, and the codec reads back each value', () => {
    const compiled = new SchemaJsonCompiler(schema).compile('Order', false)!;
    const method = schemaJsonCodec({ schemas: [schema] }).forMethod('Shop', 'order')!;
    for (let i = 0; i < 500; i++) {
      const v = value();
      const bytes = compiled.encode(v);
      expect(bytes, `value ${i}`).toBeDefined();
      expect(JSON.parse(Buffer.from(bytes!).toString()), `value ${i}`).toEqual(JSON.parse(JSON.stringify(v)));
      // What JSON can carry: -0 comes back as 0, as with JSON.stringify; Dates are revived.
      const carried: unknown = JSON.parse(JSON.stringify(v), (key, x: unknown) => (key === 'placedAt' ? new Date(x as string) : x));
      expect(method.decodeRequest(method.encodeRequest(v)), `value ${i}`).toEqual(carried);
    }
  });
});
