import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { jsonCodec, protobufCodec, schemaJsonCodec, toProtobufJson, type EventCodec, type ServiceSchema } from '../src/index.js';
import { SchemaJsonCompiler } from '../src/codec/schema-json-compiler.js';

// Issue 12, defect 9: `__proto__` (and the other names Object.prototype has) as a record key or a
// field name. A decoded object keeps such a key as an own property and never gets a prototype
// other than Object.prototype, on every decode path: protobuf (records, messages, unions),
// schema JSON (fast path and exact path), plain JSON, and the event codecs.

const box = { kind: 'message', name: 'Box' } as const;
const str = { kind: 'scalar', scalar: 'string' } as const;

const schema: ServiceSchema = {
  schemaVersion: 1,
  service: 'Keys',
  package: 'keys',
  methods: [
    { name: 'bag', request: 'Bag', response: 'Bag' },
    { name: 'odd', request: 'Odd', response: 'Odd' },
  ],
  messages: [
    {
      name: 'Bag',
      fields: [
        { name: 'tags', no: 1, type: { kind: 'map', key: 'string', value: str, js: 'record' } },
        { name: 'boxes', no: 2, type: { kind: 'map', key: 'string', value: box, js: 'record' } },
        { name: 'byName', no: 3, type: { kind: 'map', key: 'string', value: box, js: 'map' } },
        { name: 'dates', no: 4, type: { kind: 'map', key: 'string', value: { kind: 'timestamp' }, js: 'record' } },
        { name: 'shape', no: 5, type: { kind: 'message', name: 'Shape' }, optional: true },
      ],
    },
    { name: 'Box', fields: [{ name: 'n', no: 1, type: { kind: 'scalar', scalar: 'int32' } }] },
    {
      // Field names that Object.prototype has: `__proto__` is an accessor, the others inherited values.
      name: 'Odd',
      fields: [
        { name: '__proto__', no: 1, type: { kind: 'timestamp' }, optional: true },
        { name: 'constructor', no: 2, type: str },
        { name: 'toString', no: 3, type: str, optional: true },
        { name: 'valueOf', no: 4, type: box, optional: true },
        { name: 'at', no: 5, type: { kind: 'timestamp' }, optional: true },
      ],
    },
    {
      name: 'Shape',
      discriminant: 'kind',
      fields: [
        { name: 'circle', no: 1, type: { kind: 'message', name: 'ShapeCircle' }, tag: 'circle' },
        { name: 'odd', no: 2, type: { kind: 'message', name: 'ShapeOdd' }, tag: 'odd' },
      ],
    },
    { name: 'ShapeCircle', fields: [{ name: 'labels', no: 1, type: { kind: 'map', key: 'string', value: box, js: 'record' } }] },
    { name: 'ShapeOdd', fields: [{ name: '__proto__', no: 1, type: box, optional: true }] },
  ],
  enums: [],
  events: [{ topic: 'bags.put', message: 'Bag' }],
};

/** A value as JSON.parse makes it: `__proto__` is an own property there. */
const parsed = <T,>(json: string): T => JSON.parse(json) as T;

const PLAIN = new Set<unknown>([Object.prototype, Array.prototype, Date.prototype, Map.prototype, Uint8Array.prototype]);

/** Every object in `value`, at any depth, has one of the prototypes the codecs give (a plain object's is Object.prototype). */
function foreignPrototypes(value: unknown, path = 'value', out: string[] = [], depth = 0): string[] {
  if (typeof value !== 'object' || value === null || depth > 50) return out;
  const proto: unknown = Object.getPrototypeOf(value);
  if (!PLAIN.has(proto)) out.push(`${path} has a foreign prototype`);
  const entries = value instanceof Map ? [...value.entries()] : value instanceof Uint8Array || value instanceof Date ? [] : Object.entries(value);
  for (const [k, v] of entries) foreignPrototypes(v, `${path}[${JSON.stringify(String(k))}]`, out, depth + 1);
  return out;
}

function ownKey(o: unknown, key: string): unknown {
  const d = Object.getOwnPropertyDescriptor(o, key);
  expect(d, `own property ${key}`).toBeDefined();
  expect(d!.enumerable).toBe(true);
  return d!.value;
}

const Bag = protobuf.Root.fromJSON(toProtobufJson(schema)).lookupType('keys.Bag');
/** Bytes written by protobufjs (not by the codec under test), with `__proto__` map keys. */
const protobufjsBag = (): Uint8Array => {
  const message = Bag.create({});
  // Set through defineProperty: protobufjs reads own keys with Object.keys.
  const m = message as unknown as Record<string, Record<string, unknown>>;
  m['tags'] = parsed('{"__proto__":"planted","a":"b"}');
  m['boxes'] = parsed('{"__proto__":{"n":7}}');
  m['byName'] = parsed('{"__proto__":{"n":8}}');
  return Bag.encode(message).finish();
};

describe('protobuf: __proto__ as a record key', () => {
  const bag = protobufCodec([schema]).forMethod('Keys', 'bag')!;

  it('keeps a Record<string, string> entry keyed __proto__ as an own key (bytes by protobufjs)', () => {
    const out = bag.decodeRequest(protobufjsBag()) as { tags: Record<string, string> };
    expect(ownKey(out.tags, '__proto__')).toBe('planted');
    expect(Object.keys(out.tags).sort()).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(out.tags)).toBe(Object.prototype);
  });

  it('never lets a Record<string, Message> entry keyed __proto__ become the prototype', () => {
    const out = bag.decodeRequest(protobufjsBag()) as { boxes: Record<string, unknown>; byName: Map<string, unknown> };
    expect(Object.getPrototypeOf(out.boxes)).toBe(Object.prototype);
    expect(ownKey(out.boxes, '__proto__')).toEqual({ n: 7 });
    // Nothing inherited was planted: `n` is not readable through the record.
    expect((out.boxes as { n?: unknown }).n).toBeUndefined();
    expect(out.byName.get('__proto__')).toEqual({ n: 8 });
    expect(foreignPrototypes(out)).toEqual([]);
  });

  it('round-trips __proto__ keys of every record through encode and decode', () => {
    const value = parsed<Record<string, unknown>>('{"tags":{"__proto__":"x"},"boxes":{"__proto__":{"n":1}},"dates":{"__proto__":"1970-01-01T00:00:00.005Z"}}');
    (value.dates as Record<string, unknown>)['__proto__'] = undefined;
    Object.defineProperty(value.dates, '__proto__', { value: new Date(5), enumerable: true, configurable: true, writable: true });
    value.byName = new Map([['__proto__', { n: 2 }]]);
    const out = bag.decodeRequest(bag.encodeRequest(value)) as Record<string, Record<string, unknown>>;
    expect(ownKey(out.tags, '__proto__')).toBe('x');
    expect(ownKey(out.boxes, '__proto__')).toEqual({ n: 1 });
    expect(ownKey(out.dates, '__proto__')).toEqual(new Date(5));
    expect(foreignPrototypes(out)).toEqual([]);
  });

  it('keeps __proto__ keys inside a union variant', () => {
    const value = { tags: {}, boxes: {}, byName: new Map(), dates: {}, shape: { kind: 'circle', labels: parsed('{"__proto__":{"n":3}}') } };
    const out = bag.decodeRequest(bag.encodeRequest(value)) as { shape: { kind: string; labels: Record<string, unknown> } };
    expect(out.shape.kind).toBe('circle');
    expect(ownKey(out.shape.labels, '__proto__')).toEqual({ n: 3 });
    expect(foreignPrototypes(out)).toEqual([]);
  });
});

describe('protobuf: fields named like Object.prototype members', () => {
  const odd = protobufCodec([schema]).forMethod('Keys', 'odd')!;

  it('decodes a field named __proto__ as an own property, not as the prototype', () => {
    const value = parsed<Record<string, unknown>>('{"constructor":"c"}');
    Object.defineProperty(value, '__proto__', { value: new Date(42), enumerable: true, configurable: true, writable: true });
    const out = odd.decodeRequest(odd.encodeRequest(value)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(ownKey(out, '__proto__')).toEqual(new Date(42));
    expect(out.constructor).toBe('c');
    expect(foreignPrototypes(out)).toEqual([]);
  });

  it('reads only own properties of such names: an inherited member is an absent field', () => {
    // `{}` inherits __proto__, constructor, toString and valueOf; none of them is a value of the field.
    expect(() => odd.encodeRequest({})).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Keys.odd: request.constructor is required (string)' }));
    const out = odd.decodeRequest(odd.encodeRequest({ constructor: '' })) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['constructor']);
    expect(out.constructor).toBe('');
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    // Absent on the wire, they are absent in the value: an empty body decodes to the zero value only.
    expect(odd.decodeRequest(new Uint8Array(0))).toEqual({ constructor: '' });
    expect(odd.decodeRequest(odd.encodeRequest({ constructor: 'k', toString: 't', valueOf: { n: 1 } }))).toEqual({ constructor: 'k', toString: 't', valueOf: { n: 1 } });
  });

  it('keeps a variant field named __proto__ own when the union is decoded', () => {
    const bag = protobufCodec([schema]).forMethod('Keys', 'bag')!;
    const variant = { kind: 'odd' };
    Object.defineProperty(variant, '__proto__', { value: { n: 9 }, enumerable: true, configurable: true, writable: true });
    const out = bag.decodeRequest(bag.encodeRequest({ tags: {}, boxes: {}, byName: new Map(), dates: {}, shape: variant })) as { shape: Record<string, unknown> };
    expect(Object.getPrototypeOf(out.shape)).toBe(Object.prototype);
    expect(ownKey(out.shape, '__proto__')).toEqual({ n: 9 });
    expect((out.shape as { n?: unknown }).n).toBeUndefined();
  });
});

describe('schema JSON: __proto__ keys and fields', () => {
  const codec = schemaJsonCodec([schema]);
  const bag = codec.forMethod('Keys', 'bag')!;
  const odd = codec.forMethod('Keys', 'odd')!;
  const body = (json: string): Uint8Array => Buffer.from(json);

  it('keeps __proto__ record keys own on the exact path (records, Maps, Dates)', () => {
    const out = bag.decodeRequest(body('{"tags":{"__proto__":"x"},"boxes":{"__proto__":{"n":1}},"byName":{"__proto__":{"n":2}},"dates":{"__proto__":"1970-01-01T00:00:00.005Z"}}')) as Record<string, Record<string, unknown>>;
    expect(ownKey(out.tags, '__proto__')).toBe('x');
    expect(ownKey(out.boxes, '__proto__')).toEqual({ n: 1 });
    expect((out.byName as unknown as Map<string, unknown>).get('__proto__')).toEqual({ n: 2 });
    expect(ownKey(out.dates, '__proto__')).toEqual(new Date(5));
    expect(foreignPrototypes(out)).toEqual([]);
  });

  it('keeps __proto__ keys own inside a union variant, and a variant field named __proto__', () => {
    const circle = bag.decodeRequest(body('{"tags":{},"boxes":{},"byName":{},"dates":{},"shape":{"kind":"circle","labels":{"__proto__":{"n":3}}}}')) as { shape: { labels: Record<string, unknown> } };
    expect(ownKey(circle.shape.labels, '__proto__')).toEqual({ n: 3 });
    const odd = bag.decodeRequest(body('{"tags":{},"boxes":{},"byName":{},"dates":{},"shape":{"kind":"odd","__proto__":{"n":9}}}')) as { shape: Record<string, unknown> };
    expect(Object.getPrototypeOf(odd.shape)).toBe(Object.prototype);
    expect(ownKey(odd.shape, '__proto__')).toEqual({ n: 9 });
    expect((odd.shape as { n?: unknown }).n).toBeUndefined();
    expect(foreignPrototypes([circle, odd])).toEqual([]);
  });

  it('revives a Date field named __proto__ as an own property (the fast path does not take such a message)', () => {
    expect(new SchemaJsonCompiler(schema).compile('Odd', false)).toBeUndefined();
    const out = odd.decodeRequest(body('{"__proto__":"1970-01-01T00:00:00.042Z","constructor":"c"}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(ownKey(out, '__proto__')).toEqual(new Date(42));
    expect(foreignPrototypes(out)).toEqual([]);
  });

  it('revives on the exact path too (a Date as a number), and reads only own fields of such names', () => {
    const out = odd.decodeRequest(body('{"__proto__":"1970-01-01T00:00:00.042Z","at":7,"constructor":"c"}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(ownKey(out, '__proto__')).toEqual(new Date(42));
    expect(out.at).toEqual(new Date(7));
    // toString and valueOf were not sent: what `out` inherits is no value of them.
    expect(Object.keys(out).sort()).toEqual(['__proto__', 'at', 'constructor']);
    // Nor is the inherited Object a value of `constructor` (a string JSON must carry).
    expect(() => odd.decodeRequest(body('{"at":7}'))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Keys.odd: request.constructor is required (string)' }));
  });

  it('writes own __proto__ keys and fields into the JSON, and the other side gets them back', () => {
    const value = parsed<Record<string, unknown>>('{"tags":{"__proto__":"x"},"boxes":{},"dates":{}}');
    value.byName = new Map([['__proto__', { n: 2 }]]);
    const out = bag.decodeResponse(bag.encodeResponse(value)) as Record<string, Record<string, unknown>>;
    expect(ownKey(out.tags, '__proto__')).toBe('x');
    expect((out.byName as unknown as Map<string, unknown>).get('__proto__')).toEqual({ n: 2 });
    const v2 = parsed<Record<string, unknown>>('{"constructor":"c"}');
    Object.defineProperty(v2, '__proto__', { value: new Date(1), enumerable: true, configurable: true, writable: true });
    const back = odd.decodeResponse(odd.encodeResponse(v2)) as Record<string, unknown>;
    expect(ownKey(back, '__proto__')).toEqual(new Date(1));
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
  });
});

describe('plain JSON and events: __proto__', () => {
  it('plain JSON keeps __proto__ an own property and the prototype Object.prototype', () => {
    const s = jsonCodec().forMethod('Any', 'x')!;
    const out = s.decodeRequest(Buffer.from('{"a":{"__proto__":{"polluted":1}}}')) as { a: Record<string, unknown> };
    expect(Object.getPrototypeOf(out.a)).toBe(Object.prototype);
    expect(ownKey(out.a, '__proto__')).toEqual({ polluted: 1 });
    expect((out.a as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it.each<[string, EventCodec]>([
    ['protobuf', protobufCodec([schema])],
    ['schema JSON', schemaJsonCodec([schema])],
  ])('the %s event codec keeps __proto__ record keys own', (_name, codec) => {
    const e = codec.forEvent('bags.put')!;
    const payload = parsed<Record<string, unknown>>('{"tags":{"__proto__":"x"},"boxes":{"__proto__":{"n":4}},"dates":{}}');
    payload.byName = new Map();
    const out = e.decode(e.encode(payload)) as Record<string, Record<string, unknown>>;
    expect(ownKey(out.tags, '__proto__')).toBe('x');
    expect(ownKey(out.boxes, '__proto__')).toEqual({ n: 4 });
    expect(foreignPrototypes(out)).toEqual([]);
  });
});
