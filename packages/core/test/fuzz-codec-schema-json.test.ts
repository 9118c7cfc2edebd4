import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { SchemaJsonCompiler } from '../src/codec/schema-json-compiler.js';
import { RpcError, protobufCodec, schemaJsonCodec, type EventCodec, type ServiceSchema } from '../src/index.js';
import { SchemaValues, checkShape, corpusSchemas, decodeOrRefuse, runsEach, record } from './fuzz-codec-arbitraries.js';

// The schema JSON codec against hostile JSON (issue 12): random JSON values, and valid bodies with
// one thing changed (a value swapped for any JSON, a key dropped, a null, a `__proto__` key). On the
// corpus's schemas and on one the fast path covers. Invariants: nothing but an RpcError escapes a
// decoder, with INVALID_ARGUMENT for a request; what decodes is of the schema's types, without a
// foreign prototype at any depth, protobuf can carry it, and it encodes and decodes to itself; the
// fast path and the exact path give the same value or the same error; a valid value round-trips.
// SVC_FUZZ_RUNS sets the cases per property, spread over the sides (default: a few seconds in `pnpm test`).

const str = { kind: 'scalar', scalar: 'string' } as const;
/** Messages the fast path takes (no 64-bit integers, bytes, maps or unions). */
const SHOP: ServiceSchema = {
  schemaVersion: 1,
  service: 'Shop',
  package: 'shop',
  methods: [
    { name: 'order', request: 'Order', response: 'Order' },
    { name: 'rename', request: 'RenameRequest', response: 'RenameRequest', requestWrapped: true, responseWrapped: true },
  ],
  messages: [
    {
      name: 'Order',
      fields: [
        { name: 'id', no: 1, type: str },
        { name: 'customer', no: 2, type: { kind: 'message', name: 'Customer' } },
        { name: 'lines', no: 3, type: { kind: 'list', element: { kind: 'message', name: 'Line' } } },
        { name: 'tags', no: 4, type: { kind: 'list', element: str } },
        { name: 'total', no: 5, type: { kind: 'scalar', scalar: 'double' } },
        { name: 'placedAt', no: 6, type: { kind: 'timestamp' } },
        { name: 'status', no: 7, type: { kind: 'enum', name: 'Status' } },
        { name: 'paid', no: 8, type: { kind: 'scalar', scalar: 'bool' } },
        { name: 'note', no: 9, type: str, optional: true },
        { name: 'parent', no: 10, type: { kind: 'message', name: 'Order' }, optional: true },
        { name: 'count', no: 11, type: { kind: 'scalar', scalar: 'uint32' } },
        { name: 'gift', no: 12, type: { kind: 'message', name: 'Customer' }, nullable: true },
      ],
    },
    { name: 'Customer', fields: [{ name: 'id', no: 1, type: { kind: 'scalar', scalar: 'int32' } }, { name: 'name', no: 2, type: str }] },
    { name: 'Line', fields: [{ name: 'sku', no: 1, type: str }, { name: 'qty', no: 2, type: { kind: 'scalar', scalar: 'sint32' } }, { name: 'at', no: 3, type: { kind: 'timestamp' }, optional: true }] },
    { name: 'RenameRequest', fields: [{ name: 'value', no: 1, type: str }] },
  ],
  enums: [{ name: 'Status', values: [{ name: 'STATUS_UNSPECIFIED', no: 0 }, { name: 'STATUS_OPEN', no: 1, value: 'open' }, { name: 'STATUS_DONE', no: 2, value: 'done' }] }],
};

interface Side {
  readonly label: string;
  readonly values: SchemaValues;
  readonly side: 'request' | 'response';
  readonly message: string;
  readonly wrapped: boolean;
  readonly encode: (v: unknown) => Uint8Array;
  readonly decode: (b: Uint8Array) => unknown;
  /** The same codec with its fast path turned off: the exact path alone. */
  readonly exact: { encode: (v: unknown) => Uint8Array; decode: (b: Uint8Array) => unknown };
  /** The protobuf codec of the same side: what it can carry is what the schema allows. */
  readonly protobuf: { encode: (v: unknown) => Uint8Array; decode: (b: Uint8Array) => unknown };
}

let sides: Side[] = [];

/** Serializers made while the compiler has no fast path to give. */
function withoutFastPath<T>(make: () => T): T {
  const compile = SchemaJsonCompiler.prototype.compile;
  SchemaJsonCompiler.prototype.compile = () => undefined;
  try {
    return make();
  } finally {
    SchemaJsonCompiler.prototype.compile = compile;
  }
}

beforeAll(async () => {
  const schemas = [...(await corpusSchemas()), SHOP];
  const json = schemaJsonCodec(schemas);
  const exact = schemaJsonCodec(schemas);
  const pb = protobufCodec(schemas);
  const sidesOf = (codec: EventCodec, schema: ServiceSchema) => (m: ServiceSchema['methods'][number]) => {
    const s = codec.forMethod(schema.service, m.name)!;
    return { request: { encode: s.encodeRequest, decode: s.decodeRequest }, response: { encode: s.encodeResponse, decode: s.decodeResponse } };
  };
  sides = schemas.flatMap((schema) => {
    const values = new SchemaValues(schema, { json: true });
    const out: Side[] = [];
    for (const m of schema.methods) {
      const fast = sidesOf(json, schema)(m);
      const slow = withoutFastPath(() => sidesOf(exact, schema)(m));
      const proto = sidesOf(pb, schema)(m);
      for (const side of ['request', 'response'] as const) {
        const message = side === 'request' ? m.request : m.response;
        if (message === null) continue;
        out.push({ label: `${schema.service}.${m.name} ${side}`, values, side, message, wrapped: (side === 'request' ? m.requestWrapped : m.responseWrapped) === true, ...fast[side], exact: slow[side], protobuf: proto[side] });
      }
    }
    for (const e of schema.events ?? []) {
      if (e.message === null) continue;
      const fast = json.forEvent(e.topic)!;
      const slow = withoutFastPath(() => exact.forEvent(e.topic)!);
      const proto = pb.forEvent(e.topic)!;
      out.push({ label: `event ${e.topic}`, values, side: 'request', message: e.message, wrapped: e.wrapped === true, encode: fast.encode, decode: fast.decode, exact: slow, protobuf: proto });
    }
    return out;
  });
  expect(sides.length).toBeGreaterThan(8);
  // The fast path is there for SHOP (else the comparison below compares the exact path with itself).
  expect(new SchemaJsonCompiler(SHOP).compile('Order', false)).toBeDefined();
});

const wrap = (s: Side, v: unknown): unknown => (s.wrapped ? (v === undefined ? {} : { value: v }) : v);

/**
 * What decoded: the schema's types, no foreign prototype; protobuf carries it (what protobuf reads
 * back of it is its schema part: JSON keeps properties the schema does not name, and a null in an
 * optional field, which protobuf leaves out); it encodes and decodes to itself.
 */
function holds(s: Side, value: unknown): void {
  checkShape(s.values, { kind: 'message', name: s.message }, wrap(s, value), s.label, true);
  const carried = s.protobuf.decode(s.protobuf.encode(value));
  expect(s.protobuf.decode(s.protobuf.encode(carried))).toEqual(carried);
  expect(s.decode(s.encode(value))).toEqual(value);
}

/** Both paths give the same value (with the same prototypes: toEqual and checkShape) or the same error. */
function samePaths(s: Side, bytes: Uint8Array): void {
  const fast = decodeOrRefuse(() => s.decode(bytes), s.side);
  const slow = decodeOrRefuse(() => s.exact.decode(bytes), s.side);
  expect(fast.ok).toBe(slow.ok);
  if (fast.ok && slow.ok) {
    expect(fast.value).toEqual(slow.value);
    holds(s, fast.value);
  } else if (!fast.ok && !slow.ok) {
    expect({ code: fast.error.code, message: fast.error.message, details: fast.error.details }).toEqual({ code: slow.error.code, message: slow.error.message, details: slow.error.details });
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every place in a parsed JSON value where a value sits: [holder, key]. */
function places(v: Json, out: [Json[] | Record<string, Json>, string | number][] = [], depth = 0): typeof out {
  if (depth > 20 || typeof v !== 'object' || v === null) return out;
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), places(x, out, depth + 1)));
  else for (const k of Object.keys(v)) out.push([v, k]), places(v[k]!, out, depth + 1);
  return out;
}

/** A valid body with one thing changed. */
function nearValid(s: Side): fc.Arbitrary<Uint8Array> {
  return fc.tuple(s.values.side(s.message, s.wrapped), fc.nat(), fc.constantFrom('replace', 'drop', 'null', 'proto', 'extra', 'wrong-date'), fc.jsonValue({ maxDepth: 2 })).map(([v, at, how, other]) => {
    const parsed = JSON.parse(Buffer.from(s.encode(v)).toString()) as Json;
    const all = places(parsed);
    if (all.length === 0) return Buffer.from(JSON.stringify(how === 'replace' ? other : parsed));
    const [holder, key] = all[at % all.length]!;
    const h = holder as Record<string | number, Json>;
    switch (how) {
      case 'replace': h[key] = other as Json; break;
      case 'drop': if (Array.isArray(holder)) holder.splice(key as number, 1); else delete h[key]; break;
      case 'null': h[key] = null; break;
      case 'proto': {
        const target = typeof h[key] === 'object' && h[key] !== null && !Array.isArray(h[key]) ? h[key] as Record<string, Json> : (Array.isArray(holder) ? undefined : h);
        if (target) Object.defineProperty(target, '__proto__', { value: other === null || typeof other !== 'object' ? { polluted: true } : other, enumerable: true, writable: true, configurable: true });
        break;
      }
      case 'extra': if (!Array.isArray(holder)) h[`x${String(key)}`] = other as Json; break;
      default: h[key] = typeof h[key] === 'string' ? Date.parse(h[key] as string) || 'not a date' : h[key]!;
    }
    return Buffer.from(JSON.stringify(parsed));
  });
}

describe('schema JSON codec fuzz (corpus schemas and a fast-path one)', () => {
  it('round-trips every valid value exactly, as protobuf does, on both paths', () => {
    for (const s of sides) {
      fc.assert(fc.property(s.values.side(s.message, s.wrapped), (v) => {
        const bytes = s.encode(v);
        const back = s.decode(bytes);
        expect(back).toEqual(v);
        expect(s.exact.decode(s.exact.encode(v))).toEqual(v);
        // The bytes of both paths mean the same JSON (the fast path writes the schema's key order).
        expect(JSON.parse(Buffer.from(s.exact.encode(v)).toString())).toEqual(JSON.parse(Buffer.from(bytes).toString()));
        expect(back).toEqual(s.protobuf.decode(s.protobuf.encode(v)));
        holds(s, back);
      }), { numRuns: runsEach(sides.length) });
    }
  });

  it('answers any JSON value with a value of the schema or INVALID_ARGUMENT, the same on both paths', () => {
    for (const s of sides) {
      fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), (j) => samePaths(s, Buffer.from(JSON.stringify(j)))), { numRuns: runsEach(sides.length) });
    }
  });

  it('answers near-valid bodies (one value swapped, dropped, nulled, a __proto__ key) the same way', () => {
    for (const s of sides) fc.assert(fc.property(nearValid(s), (bytes) => samePaths(s, bytes)), { numRuns: runsEach(sides.length) });
  });

  it('answers bytes that are not JSON (or not UTF-8) with the RpcError for a bad body', () => {
    for (const s of sides) {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const r = decodeOrRefuse(() => s.decode(bytes), s.side);
        if (r.ok) holds(s, r.value);
      }), { numRuns: runsEach(sides.length) });
    }
  });

  it('keeps __proto__ keys of records own, and never lets one become a prototype', () => {
    const s = sides.find((x) => x.label === 'Catalog.echo request')!;
    expect(s).toBeDefined();
    fc.assert(fc.property(s.values.side(s.message, false), fc.jsonValue({ maxDepth: 2 }), (v, planted) => {
      const body = JSON.parse(Buffer.from(s.encode(v)).toString()) as Record<string, Json>;
      // `record` is a Record<string, double>; `map` a Map<string, Point>.
      body.record = record([...Object.entries(body.record as Record<string, Json>), ['__proto__', 1.5]]) as Record<string, Json>;
      body.map = record([['__proto__', { x: 1, y: 2 }]]) as Record<string, Json>;
      Object.defineProperty(body, '__proto__', { value: planted, enumerable: true, writable: true, configurable: true });
      const r = decodeOrRefuse(() => s.decode(Buffer.from(JSON.stringify(body))), 'request');
      expect(r.ok).toBe(true);
      const out = (r as { value: Record<string, unknown> }).value;
      expect(Object.getOwnPropertyDescriptor(out.record, '__proto__')?.value).toBe(1.5);
      expect((out.map as Map<string, unknown>).get('__proto__')).toEqual({ x: 1, y: 2 });
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      holds(s, out);
    }), { numRuns: runsEach(1) });
  });

  it('still refuses what protobuf refuses: a decoded value always re-encodes as protobuf', () => {
    // (Checked in holds(); here for a body whose one field is of another type.)
    const s = sides.find((x) => x.label === 'Shop.order request')!;
    const error = decodeOrRefuse(() => s.decode(Buffer.from('{"id":1}')), 'request');
    expect(error.ok).toBe(false);
    expect((error as { error: RpcError }).error.message).toMatch(/^Shop\.order: request\.id expected a string, got 1$/);
  });
});
