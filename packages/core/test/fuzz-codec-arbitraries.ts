/**
 * What the codec fuzz tests (fuzz-codec-*.test.ts) share: the generated schemas of svc-gen's golden
 * corpus, fast-check arbitraries of the values a schema allows, a schema-aware check of what a
 * decoder hands a handler, and protobuf's merge of two decoded values (the reference the decoder
 * of two concatenated encodings is held to).
 */
import fc from 'fast-check';
import { RpcError, type FieldSchema, type FieldType, type MessageSchema, type ServiceSchema } from '../src/index.js';

const CORPUS = new URL('../../codegen/test/fixtures/corpus/src/generated/', import.meta.url);

/** The corpus's ServiceSchemas (imported by path, so that this package's tsc does not follow into codegen's fixtures). */
export async function corpusSchemas(): Promise<ServiceSchema[]> {
  const out: ServiceSchema[] = [];
  for (const [file, name] of [['catalog', 'CatalogSchema'], ['ledger', 'LedgerSchema'], ['stock', 'StockSchema'], ['admin-console', 'AdminConsoleSchema']] as const) {
    const module = (await import(/* @vite-ignore */ new URL(`${file}.descriptor.ts`, CORPUS).pathname)) as Record<string, ServiceSchema>;
    const schema = module[name];
    if (schema === undefined) throw new Error(`${file}.descriptor.ts has no ${name} (exports: ${Object.keys(module).join(', ')})`);
    out.push(schema);
  }
  return out;
}

/**
 * How many cases each property runs, spread over the methods, responses and events it is tried on:
 * a few seconds per file in `pnpm test`, `SVC_FUZZ_RUNS=1000000` for the long run.
 */
export const RUNS = Number(process.env.SVC_FUZZ_RUNS ?? 1200);

/** The cases of one property on each of `n` sides (at least one). */
export const runsEach = (n: number): number => Math.max(1, Math.ceil(RUNS / n));

export interface ValueOptions {
  /** Values JSON can carry exactly: no NaN, no infinities, no -0. */
  readonly json?: boolean;
  /** String values (not keys) may hold lone surrogates. */
  readonly lone?: boolean;
  /** Message nesting beyond which optional messages are left out and lists and maps are empty. */
  readonly depth?: number;
}

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const UINT32 = { min: 0, max: 2 ** 32 - 1 };
const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const UINT64 = { min: 0n, max: 2n ** 64n - 1n };
const LONE = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff');
const KEYS = fc.oneof({ weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) }, { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', '') });

/** Stores each key as an own property, `__proto__` too; the last of a key wins. */
export function record(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  return o;
}

/** fast-check arbitraries of the values of one schema. */
export class SchemaValues {
  private readonly messages = new Map<string, MessageSchema>();
  private readonly enums = new Map<string, (string | number)[]>();
  private readonly maxDepth: number;

  constructor(readonly schema: ServiceSchema, private readonly options: ValueOptions = {}) {
    for (const m of schema.messages) this.messages.set(m.name, m);
    for (const e of schema.enums) this.enums.set(e.name, e.values.filter((v) => v.value !== undefined).map((v) => v.value!));
    this.maxDepth = options.depth ?? 3;
  }

  messageSchema(name: string): MessageSchema {
    const m = this.messages.get(name);
    if (!m) throw new Error(`no message ${name}`);
    return m;
  }

  /** A method's request or response as the codec takes it: the bare value when wrapped. */
  side(name: string | null, wrapped: boolean): fc.Arbitrary<unknown> {
    if (name === null) return fc.constant(undefined);
    if (!wrapped) return this.message(name, 0);
    return this.field(this.messageSchema(name).fields[0]!, 0);
  }

  private readonly made = new Map<string, fc.Arbitrary<Record<string, unknown>>>();

  message(name: string, depth: number): fc.Arbitrary<Record<string, unknown>> {
    const key = `${name}@${Math.min(depth, this.maxDepth + 2)}`;
    let arb = this.made.get(key);
    if (!arb) {
      arb = this.makeMessage(name, depth);
      this.made.set(key, arb);
    }
    return arb;
  }

  private makeMessage(name: string, depth: number): fc.Arbitrary<Record<string, unknown>> {
    const m = this.messageSchema(name);
    if (m.discriminant !== undefined) {
      const d = m.discriminant;
      return fc.oneof(...m.fields.map((f) => this.message((f.type as { name: string }).name, depth + 1).map((v) => ({ [d]: f.tag, ...v }))));
    }
    return fc.tuple(...m.fields.map((f) => this.field(f, depth + 1))).map((values) => {
      const out: [string, unknown][] = [];
      m.fields.forEach((f, i) => {
        if (values[i] !== undefined) out.push([f.name, values[i]]);
      });
      return record(out);
    });
  }

  /** A field's value: undefined only where it may be absent and comes back absent, null where it is nullable. */
  field(f: FieldSchema, depth: number): fc.Arbitrary<unknown> {
    const collection = f.type.kind === 'list' || f.type.kind === 'map';
    const deep = depth > this.maxDepth;
    if (f.nullable === true) return deep ? fc.constant(null) : fc.option(this.value(f.type, depth), { nil: null });
    if (f.optional === true) {
      if (deep) return fc.constant(undefined);
      // An empty collection comes back absent: an optional one is absent or has elements.
      return fc.option(collection ? this.value(f.type, depth, 1) : this.value(f.type, depth), { nil: undefined });
    }
    return this.value(f.type, depth);
  }

  value(type: FieldType, depth: number, minLength = 0): fc.Arbitrary<unknown> {
    const deep = depth > this.maxDepth;
    const max = deep ? minLength : 3;
    // Deep down, collections are empty: their elements' arbitraries are not even made (recursive types).
    if (deep && minLength === 0 && type.kind === 'list') return fc.constant([]);
    if (deep && minLength === 0 && type.kind === 'map') return fc.constant(type.js === 'map' ? new Map() : {});
    switch (type.kind) {
      case 'scalar':
        return this.scalar(type.scalar, false);
      case 'timestamp':
        // A second short of the Date range at each end: two Timestamps merged (seconds of one, the
        // milliseconds of the other) stay in it.
        return fc.date({ noInvalidDate: true, min: new Date(-8.64e15 + 1000), max: new Date(8.64e15 - 1000) });
      case 'enum':
        return fc.constantFrom(...this.enums.get(type.name)!);
      case 'message':
        return this.message(type.name, depth);
      case 'list':
        return fc.array(this.value(type.element, depth), { minLength, maxLength: Math.max(minLength, max) });
      case 'map': {
        const entries = fc.array(fc.tuple(type.js === 'record' ? KEYS : this.scalar(type.key, true), this.value(type.value, depth)), { minLength, maxLength: Math.max(minLength, max) });
        // Distinct keys, so that an entry is never lost to a later one (JSON objects and Records have one of each).
        const distinct = entries.map((es) => [...new Map(es.map(([k, v]) => [typeof k === 'bigint' ? `${k}n` : JSON.stringify(k), [k, v] as const])).values()]).filter((es) => es.length >= minLength);
        return type.js === 'record' ? distinct.map((es) => record(es as [string, unknown][])) : distinct.map((es) => new Map(es));
      }
    }
  }

  scalar(scalar: string, key: boolean): fc.Arbitrary<unknown> {
    const json = this.options.json === true;
    switch (scalar) {
      case 'double':
        return json ? fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x)) : fc.double();
      case 'float':
        return json ? fc.float({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x)) : fc.float();
      case 'int32':
      case 'sint32':
      case 'sfixed32':
        return fc.integer(INT32);
      case 'uint32':
      case 'fixed32':
        return fc.integer(UINT32);
      case 'int64':
      case 'sint64':
      case 'sfixed64':
        return fc.bigInt(INT64);
      case 'uint64':
      case 'fixed64':
        return fc.bigInt(UINT64);
      case 'bool':
        return fc.boolean();
      case 'bytes':
        return fc.uint8Array({ maxLength: 12 });
      case 'string': {
        const unit = this.options.lone === true && !key ? fc.oneof({ weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }, { weight: 1, arbitrary: LONE }) : 'binary';
        // Lengths around protobufjs's switch from its own UTF-8 writer to Buffer (40) and to a longer length prefix (128).
        return fc.oneof(
          { weight: 6, arbitrary: fc.string({ unit, maxLength: 8 }) },
          { weight: 1, arbitrary: fc.string({ unit, minLength: 38, maxLength: 42 }) },
          { weight: 1, arbitrary: fc.string({ unit, minLength: 126, maxLength: 130 }) },
        );
      }
    }
    throw new Error(`no arbitrary for ${scalar}`);
  }
}

const PROTOTYPES = new Set<unknown>([Object.prototype, Array.prototype, Date.prototype, Map.prototype, Uint8Array.prototype]);

/**
 * What a decoder may hand a handler for a value of `type`: the types the schema says, every object
 * with the prototype of its kind (Object.prototype for messages and records), a message's own keys
 * only its fields (and, where `extra` allows, the properties a JSON body brought along). Throws an
 * Error naming the path otherwise.
 */
export function checkShape(values: SchemaValues, type: FieldType, v: unknown, path: string, extra: boolean): void {
  const fail = (what: string): never => {
    throw new Error(`${path}: ${what} (${typeof v === 'object' && v !== null ? Object.prototype.toString.call(v) : String(v)})`);
  };
  if (typeof v === 'object' && v !== null && !PROTOTYPES.has(Object.getPrototypeOf(v))) fail('foreign prototype');
  switch (type.kind) {
    case 'scalar':
      switch (type.scalar) {
        case 'string': return void (typeof v === 'string' || fail('not a string'));
        case 'bool': return void (typeof v === 'boolean' || fail('not a boolean'));
        case 'bytes': return void (Object.getPrototypeOf(v) === Uint8Array.prototype || fail('not a Uint8Array'));
        case 'double':
        case 'float':
          return void (typeof v === 'number' || fail('not a number'));
        case 'int32': case 'sint32': case 'sfixed32':
          return void ((typeof v === 'number' && Number.isInteger(v) && v >= INT32.min && v <= INT32.max) || fail('not an int32'));
        case 'uint32': case 'fixed32':
          return void ((typeof v === 'number' && Number.isInteger(v) && v >= UINT32.min && v <= UINT32.max) || fail('not a uint32'));
        case 'uint64': case 'fixed64':
          return void ((typeof v === 'bigint' && v >= UINT64.min && v <= UINT64.max) || fail('not a uint64'));
        default:
          return void ((typeof v === 'bigint' && v >= INT64.min && v <= INT64.max) || fail('not an int64'));
      }
    case 'timestamp':
      if (Object.getPrototypeOf(v) !== Date.prototype || Number.isNaN((v as Date).getTime())) fail('not a valid Date');
      return;
    case 'enum':
      if (!values.schema.enums.find((e) => e.name === type.name)!.values.some((x) => x.value !== undefined && x.value === v)) fail('not a value of the enum');
      return;
    case 'list':
      if (!Array.isArray(v) || Object.getPrototypeOf(v) !== Array.prototype) fail('not an array');
      (v as unknown[]).forEach((x, i) => checkShape(values, type.element, x, `${path}[${i}]`, extra));
      return;
    case 'map':
      if (type.js === 'map') {
        if (!(v instanceof Map)) fail('not a Map');
        for (const [k, x] of v as Map<unknown, unknown>) {
          checkShape(values, { kind: 'scalar', scalar: type.key }, k, `${path} key`, extra);
          checkShape(values, type.value, x, `${path}[${String(k)}]`, extra);
        }
      } else {
        if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) fail('not a plain object (Record)');
        for (const k of Object.getOwnPropertyNames(v)) checkShape(values, type.value, (v as Record<string, unknown>)[k], `${path}[${JSON.stringify(k)}]`, extra);
      }
      return;
    case 'message': {
      const m = values.messageSchema(type.name);
      if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) fail(`not a plain object (${m.name})`);
      const o = v as Record<string, unknown>;
      let fields = m.fields;
      const allowed = new Set(fields.map((f) => f.name));
      if (m.discriminant !== undefined) {
        const variant = m.fields.find((f) => f.tag === o[m.discriminant!]);
        if (!variant) fail(`no variant of ${m.name}`);
        fields = values.messageSchema((variant!.type as { name: string }).name).fields;
        allowed.clear();
        allowed.add(m.discriminant);
        for (const f of fields) allowed.add(f.name);
      }
      for (const k of Object.getOwnPropertyNames(o)) if (!allowed.has(k) && !extra) fail(`own property ${JSON.stringify(k)} that is not a field of ${m.name}`);
      for (const f of fields) {
        const x = Object.hasOwn(o, f.name) ? o[f.name] : undefined;
        if (x === undefined) {
          if (f.optional !== true && f.type.kind !== 'list' && !extra) fail(`required field ${f.name} missing`);
          continue;
        }
        if (x === null) {
          if (f.nullable !== true && f.optional !== true) fail(`null in ${f.name}, which is not nullable`);
          continue;
        }
        checkShape(values, f.type, x, `${path}.${f.name}`, extra);
      }
      return;
    }
  }
}

/** The code a decoder must answer a bad body with. */
export const codeFor = (side: 'request' | 'response'): string => (side === 'request' ? 'INVALID_ARGUMENT' : 'INTERNAL');

/** Runs a decode; returns the value, or undefined after checking that what it threw is the RpcError for a bad body. */
export function decodeOrRefuse(decode: () => unknown, side: 'request' | 'response'): { ok: true; value: unknown } | { ok: false; error: RpcError } {
  try {
    return { ok: true, value: decode() };
  } catch (error) {
    if (!RpcError.is(error)) throw new Error(`a decoder threw something other than an RpcError: ${String(error)}`, { cause: error });
    if (error.code !== codeFor(side)) throw new Error(`a bad ${side} body got ${error.code}, not ${codeFor(side)}: ${error.message}`);
    return { ok: false, error };
  }
}

const isZero = (type: FieldType, v: unknown): boolean => {
  if (type.kind !== 'scalar') return false;
  if (type.scalar === 'string') return v === '';
  if (type.scalar === 'bool') return v === false;
  if (type.scalar === 'bytes') return (v as Uint8Array).length === 0;
  if (type.scalar === 'double' || type.scalar === 'float') return v === 0 && !Object.is(v, -0);
  return v === 0 || v === 0n;
};

/**
 * Protobuf's merge of `b` into `a` (decoded values of one message), as a decoder must give for
 * the two encodings written one after the other: what `b`'s encoding carries replaces or adds to
 * `a` (proto3 leaves zero scalars off the wire, so those keep `a`'s), lists concatenate, map
 * entries add (a key of `b` replaces `a`'s), messages and Timestamps merge field by field, a
 * union's other variant replaces it and the same variant merges.
 */
export function mergeDecoded(values: SchemaValues, type: FieldType, a: unknown, b: unknown): unknown {
  switch (type.kind) {
    case 'list':
      return [...(a as unknown[] | undefined ?? []), ...(b as unknown[] | undefined ?? [])];
    case 'map':
      if (type.js === 'map') return new Map([...(a as Map<unknown, unknown> | undefined ?? []), ...(b as Map<unknown, unknown> | undefined ?? [])]);
      return record([...Object.entries((a as object | undefined) ?? {}), ...Object.entries((b as object | undefined) ?? {})]);
    case 'timestamp': {
      const split = (d: Date): [number, number] => {
        const s = Math.floor(d.getTime() / 1000);
        return [s, d.getTime() - s * 1000];
      };
      const [sa, ma] = split(a as Date);
      const [sb, mb] = split(b as Date);
      return new Date((sb !== 0 ? sb : sa) * 1000 + (mb !== 0 ? mb : ma));
    }
    case 'message': {
      const m = values.messageSchema(type.name);
      const oa = a as Record<string, unknown>;
      const ob = b as Record<string, unknown>;
      if (m.discriminant !== undefined) {
        if (oa[m.discriminant] !== ob[m.discriminant]) return ob;
        const variant = m.fields.find((f) => f.tag === ob[m.discriminant!])!;
        return { [m.discriminant]: ob[m.discriminant], ...(mergeDecoded(values, variant.type, oa, ob) as object) };
      }
      const out: [string, unknown][] = [];
      for (const f of m.fields) {
        const x = oa[f.name];
        const y = ob[f.name];
        const present = (v: unknown): boolean => v !== undefined && v !== null;
        let merged: unknown;
        if (f.type.kind === 'list' || f.type.kind === 'map') {
          merged = x === undefined && y === undefined ? undefined : mergeDecoded(values, f.type, x, y);
          // An optional collection that is empty is absent.
          if (f.optional === true && merged !== undefined && (f.type.kind === 'list' ? (merged as unknown[]).length === 0 : f.type.js === 'map' ? (merged as Map<unknown, unknown>).size === 0 : Object.keys(merged as object).length === 0)) merged = undefined;
        } else if (f.type.kind === 'message' || f.type.kind === 'timestamp') {
          merged = present(x) && present(y) ? mergeDecoded(values, f.type, x, y) : present(y) ? y : x;
        } else if (f.optional === true || f.nullable === true) {
          merged = present(y) ? y : x;
        } else {
          merged = isZero(f.type, y) ? x : y;
        }
        if (merged !== undefined) out.push([f.name, merged]);
      }
      return record(out);
    }
    default:
      return b;
  }
}
