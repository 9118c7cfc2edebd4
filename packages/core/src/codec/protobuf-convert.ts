import { RpcError } from '../errors/rpc-error.js';
import { at, bad, child, describeType, type Path, type Side } from './protobuf-paths.js';
import { keyFromWire, keyToWire, longToBigInt, scalarEncoder, scalarFromWire, type Encode } from './protobuf-scalars.js';
import { isLongScalar, type EnumSchema, type FieldType, type MessageSchema, type ServiceSchema } from './protobuf-schema.js';

export { bad, withPaths, type Path, type Side } from './protobuf-paths.js';

interface EnumMaps {
  readonly byValue: Map<string | number, number>;
  readonly byNumber: Map<number, string | number>;
  readonly allowed: string;
}

type Decode = (v: unknown, path: Path, side: Side) => unknown;

interface Compiled {
  toWire: (value: unknown, path: Path, side: Side) => Record<string, unknown>;
  fromWire: (decoded: Record<string, unknown>, path: Path, side: Side) => Record<string, unknown>;
}

/**
 * Converts between the values a TypeScript handler sees (bigint, Date, Map, string enums,
 * discriminated unions) and the plain objects protobufjs encodes and decodes, checking every
 * value against the schema on the way. A bad value names its path: `request.items[2].when`.
 * Each message is compiled once into closures (no per-value lookups or switches).
 */
export class SchemaConverter {
  private readonly messages = new Map<string, MessageSchema>();
  private readonly enums = new Map<string, EnumMaps>();
  private readonly compiled = new Map<string, Compiled>();

  constructor(readonly schema: ServiceSchema) {
    for (const m of schema.messages) this.messages.set(m.name, m);
    for (const e of schema.enums) this.enums.set(e.name, enumMaps(e));
  }

  message(name: string): MessageSchema {
    const m = this.messages.get(name);
    if (!m) throw new RpcError('INTERNAL', `the schema of ${this.schema.service} has no message ${name}; regenerate it with svc-gen`);
    return m;
  }

  /** TypeScript value → protobufjs plain object. */
  toWire(message: MessageSchema, value: unknown, path: Path, side: Side): Record<string, unknown> {
    return this.compile(message.name).toWire(value, path, side);
  }

  /** protobufjs message → TypeScript value, checking what protobuf itself cannot. */
  fromWire(message: MessageSchema, decoded: Record<string, unknown>, path: Path, side: Side): Record<string, unknown> {
    return this.compile(message.name).fromWire(decoded, path, side);
  }

  /** The converters of a message, built on first use (recursive messages refer to the entry). */
  private compile(name: string): Compiled {
    const existing = this.compiled.get(name);
    if (existing) return existing;
    const message = this.message(name);
    const entry: Compiled = { toWire: () => ({}), fromWire: () => ({}) };
    this.compiled.set(name, entry);
    if (message.discriminant !== undefined) this.compileUnion(message, entry);
    else this.compileMessage(message, entry);
    return entry;
  }

  private compileMessage(message: MessageSchema, entry: Compiled): void {
    const fields = message.fields.map((f) => ({
      name: f.name,
      encode: this.encoder(f.type),
      decode: f.type.kind === 'list' || f.type.kind === 'map' ? undefined : this.decoder(f.type),
      decodeCollection: f.type.kind === 'list' || f.type.kind === 'map' ? this.collectionDecoder(f.type) : undefined,
      mayBeAbsent: f.optional === true || f.nullable === true,
      optional: f.optional === true,
      nullable: f.nullable === true,
      collection: f.type.kind === 'list' || f.type.kind === 'map',
      required: `is required (${describeType(f.type)})`,
      zero: zeroOf(f.type),
      type: f.type,
    }));
    const label = `expected an object (${message.name})`;
    entry.toWire = (value, path, side) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(side, path, label, value);
      const source = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i]!;
        const v = source[f.name];
        if (v === undefined || v === null) {
          if (f.mayBeAbsent || (f.collection && v === undefined)) continue;
          bad(side, child(path, f.name), f.required, v);
        }
        out[f.name] = f.encode(v, path === null ? null : child(path, f.name), side);
      }
      return out;
    };
    entry.fromWire = (decoded, path, side) => {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i]!;
        const present = Object.prototype.hasOwnProperty.call(decoded, f.name);
        const v = present ? decoded[f.name] : undefined;
        if (f.decodeCollection) {
          const value = f.decodeCollection(v, path === null ? null : child(path, f.name), side);
          if (value !== undefined) out[f.name] = value;
          else if (!f.optional) out[f.name] = emptyCollection(f.type);
          continue;
        }
        if (v === undefined || v === null) {
          if (f.nullable) out[f.name] = null;
          else if (f.optional) continue;
          else if (f.zero !== undefined) out[f.name] = typeof f.zero === 'function' ? (f.zero as () => unknown)() : f.zero;
          else if (f.type.kind === 'enum') out[f.name] = f.decode!(0, child(path, f.name), side);
          else bad(side, child(path, f.name), `${f.required} but missing`, undefined);
          continue;
        }
        out[f.name] = f.decode!(v, path === null ? null : child(path, f.name), side);
      }
      return out;
    };
  }

  private compileUnion(message: MessageSchema, entry: Compiled): void {
    const discriminant = message.discriminant!;
    const variants = new Map<unknown, { field: string; compiled: Compiled }>();
    const list = message.fields.map((f) => ({ field: f.name, tag: f.tag, compiled: this.compile((f.type as { name: string }).name) }));
    for (const v of list) variants.set(v.tag, v);
    const expected = `expected one of ${message.fields.map((f) => JSON.stringify(f.tag)).join(', ')}`;
    const unset = `no variant of ${message.name} is set (expected ${discriminant} = ${message.fields.map((f) => JSON.stringify(f.tag)).join(' | ')})`;
    entry.toWire = (value, path, side) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(side, path, `expected an object (${message.name})`, value);
      const tag = (value as Record<string, unknown>)[discriminant];
      const variant = variants.get(tag);
      if (!variant) bad(side, child(path, discriminant), expected, tag);
      return { [variant.field]: variant.compiled.toWire(value, path, side) };
    };
    entry.fromWire = (decoded, path, side) => {
      for (const v of list) {
        if (!Object.prototype.hasOwnProperty.call(decoded, v.field) || decoded[v.field] == null) continue;
        const out: Record<string, unknown> = { [discriminant]: v.tag };
        return Object.assign(out, v.compiled.fromWire(decoded[v.field] as Record<string, unknown>, path, side));
      }
      return bad(side, path, unset, undefined);
    };
  }

  private encoder(type: FieldType): Encode {
    switch (type.kind) {
      case 'scalar':
        return scalarEncoder(type.scalar);
      case 'timestamp':
        return (v, path, side) => {
          if (!(v instanceof Date)) return bad(side, path, 'expected a valid Date', v);
          const ms = v.getTime();
          if (Number.isNaN(ms)) bad(side, path, 'expected a valid Date', v);
          const seconds = Math.floor(ms / 1000);
          return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
        };
      case 'enum': {
        const e = this.enumOf(type.name);
        const expected = `expected one of ${e.allowed}`;
        return (v, path, side) => {
          const no = e.byValue.get(v as string | number);
          return no === undefined ? bad(side, path, expected, v) : no;
        };
      }
      case 'message': {
        const compiled = this.lazy(type.name);
        return (v, path, side) => compiled().toWire(v, path, side);
      }
      case 'list': {
        const element = this.encoder(type.element);
        const expected = `expected an array (${describeType(type)})`;
        return (v, path, side) => {
          if (!Array.isArray(v)) return bad(side, path, expected, v);
          const out = new Array<unknown>(v.length);
          for (let i = 0; i < v.length; i++) {
            const item: unknown = v[i];
            if (item === undefined || item === null) bad(side, at(path, i), 'array elements cannot be null or undefined', item);
            out[i] = element(item, path === null ? null : at(path, i), side);
          }
          return out;
        };
      }
      case 'map': {
        const value = this.encoder(type.value);
        const key = type.key;
        const js = type.js;
        return (v, path, side) => {
          const out: Record<string, unknown> = {};
          const entries = js === 'map'
            ? (v instanceof Map ? [...v.entries()] : bad(side, path, 'expected a Map', v))
            : (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) ? Object.entries(v) : bad(side, path, 'expected an object (Record)', v));
          for (const [k, item] of entries) {
            const itemPath = path === null ? null : at(path, JSON.stringify(typeof k === 'bigint' ? k.toString() : k));
            if (item === undefined || item === null) bad(side, itemPath, 'map values cannot be null or undefined', item);
            out[keyToWire(key, k, itemPath, side, js)] = value(item, itemPath, side);
          }
          return out;
        };
      }
    }
  }

  private decoder(type: FieldType): Decode {
    switch (type.kind) {
      case 'scalar': {
        const scalar = type.scalar;
        if (isLongScalar(scalar)) {
          const unsigned = scalar === 'uint64' || scalar === 'fixed64';
          return (v) => longToBigInt(v, unsigned);
        }
        if (scalar === 'bytes') return (v) => scalarFromWire('bytes', v);
        return (v) => v;
      }
      case 'timestamp':
        return (v, path, side) => {
          const ts = v as { seconds?: unknown; nanos?: number };
          const seconds = Number(longToBigInt(ts.seconds ?? 0, false));
          const date = new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1_000_000));
          if (Number.isNaN(date.getTime())) bad(side, path, 'the timestamp is out of the range of a Date', v);
          return date;
        };
      case 'enum': {
        const e = this.enumOf(type.name);
        const name = type.name;
        return (v, path, side) => {
          const value = e.byNumber.get(v as number);
          if (value === undefined) bad(side, path, `${v === 0 ? 'no value is set' : `the number ${String(v)} is not a value`} of the enum ${name} (expected one of ${e.allowed})`, undefined);
          return value;
        };
      }
      case 'message': {
        const compiled = this.lazy(type.name);
        return (v, path, side) => compiled().fromWire(v as Record<string, unknown>, path, side);
      }
      case 'list':
      case 'map':
        throw new RpcError('INTERNAL', `nested ${type.kind} in the schema of ${this.schema.service}; regenerate it with svc-gen`);
    }
  }

  /** Lists and maps: an empty one decodes to undefined (for optional fields to leave out). */
  private collectionDecoder(type: FieldType): Decode {
    if (type.kind === 'list') {
      const element = this.decoder(type.element);
      return (v, path, side) => {
        const list = (v ?? []) as unknown[];
        const out = new Array<unknown>(list.length);
        for (let i = 0; i < list.length; i++) out[i] = element(list[i], path === null ? null : at(path, i), side);
        return out.length === 0 ? undefined : out;
      };
    }
    if (type.kind !== 'map') throw new RpcError('INTERNAL', 'not a collection');
    const value = this.decoder(type.value);
    const key = type.key;
    const js = type.js;
    return (v, path, side) => {
      const map = (v ?? {}) as Record<string, unknown>;
      const keys = Object.keys(map);
      if (keys.length === 0) return undefined;
      if (js === 'map') {
        const out = new Map<unknown, unknown>();
        for (const k of keys) out.set(keyFromWire(key, k), value(map[k], path === null ? null : at(path, JSON.stringify(k)), side));
        return out;
      }
      const out: Record<string, unknown> = {};
      for (const k of keys) out[k] = value(map[k], path === null ? null : at(path, JSON.stringify(k)), side);
      return out;
    };
  }

  private lazy(name: string): () => Compiled {
    this.message(name);
    let compiled: Compiled | undefined;
    return () => (compiled ??= this.compile(name));
  }

  private enumOf(name: string): EnumMaps {
    const e = this.enums.get(name);
    if (!e) throw new RpcError('INTERNAL', `the schema of ${this.schema.service} has no enum ${name}; regenerate it with svc-gen`);
    return e;
  }
}

function emptyCollection(type: FieldType): unknown {
  if (type.kind === 'list') return [];
  return type.kind === 'map' && type.js === 'map' ? new Map() : {};
}

/** The value of a required scalar the sender left at zero (proto3 omits zeros). */
function zeroOf(type: FieldType): unknown {
  if (type.kind !== 'scalar') return undefined;
  if (type.scalar === 'string') return '';
  if (type.scalar === 'bool') return false;
  if (type.scalar === 'bytes') return () => new Uint8Array(0);
  return isLongScalar(type.scalar) ? 0n : 0;
}

function enumMaps(e: EnumSchema): EnumMaps {
  const byValue = new Map<string | number, number>();
  const byNumber = new Map<number, string | number>();
  for (const v of e.values) {
    if (v.value === undefined) continue;
    byValue.set(v.value, v.no);
    byNumber.set(v.no, v.value);
  }
  return { byValue, byNumber, allowed: [...byValue.keys()].map((v) => JSON.stringify(v)).join(', ') };
}
