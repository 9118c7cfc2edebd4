import protobuf from 'protobufjs';
import { RpcError } from '../errors/rpc-error.js';
import { isLongScalar, type EnumSchema, type FieldSchema, type FieldType, type MessageSchema, type ScalarName, type ServiceSchema } from './protobuf-schema.js';

/** Which side a value is on: a bad request is the caller's fault, a bad response the server's. */
export type Side = 'request' | 'response';

/**
 * Where a value is: `items[2].when`, '' at the top, or null when not tracked. Valid values
 * (nearly all) are converted with null, building no strings; a bad one throws RETRY_WITH_PATHS
 * and the caller converts again with paths to report where (see `withPaths`).
 */
export type Path = string | null;

const RETRY_WITH_PATHS = Symbol('retry with paths');

function child(path: Path, name: string): Path {
  return path === null ? null : path === '' ? name : `${path}.${name}`;
}

function at(path: Path, index: number | string): Path {
  return path === null ? null : `${path}[${index}]`;
}

/** Runs a conversion without paths; on a bad value, runs it again with paths for the message. */
export function withPaths<T>(convert: (path: Path) => T): T {
  try {
    return convert(null);
  } catch (error) {
    if (error !== RETRY_WITH_PATHS) throw error;
    return convert('');
  }
}

interface EnumMaps {
  readonly byValue: Map<string | number, number>;
  readonly byNumber: Map<number, string | number>;
  readonly allowed: string;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const EMPTY_BYTES = new Uint8Array(0);

/**
 * Converts between the values a TypeScript handler sees (bigint, Date, Map, string enums,
 * discriminated unions) and the plain objects protobufjs encodes and decodes, checking every
 * value against the schema on the way. A bad value names its path: `request.items[2].when`.
 */
export class SchemaConverter {
  private readonly messages = new Map<string, MessageSchema>();
  private readonly enums = new Map<string, EnumMaps>();

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
    if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(side, path, `expected an object (${message.name})`, value);
    const source = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    if (message.discriminant !== undefined) {
      const tag = source[message.discriminant];
      const variant = message.fields.find((f) => f.tag === tag);
      if (!variant) {
        bad(side, child(path, message.discriminant), `expected one of ${message.fields.map((f) => JSON.stringify(f.tag)).join(', ')}`, tag);
      }
      out[variant.name] = this.toWire(this.message((variant.type as { name: string }).name), source, path, side);
      return out;
    }
    for (const field of message.fields) {
      const v = source[field.name];
      const fieldPath = child(path, field.name);
      if (v === undefined || v === null) {
        if (field.optional || field.nullable) continue;
        if (field.type.kind === 'list' || field.type.kind === 'map') {
          if (v === undefined) continue;
        }
        bad(side, fieldPath, `is required (${describeType(field.type)})`, v);
      }
      out[field.name] = this.valueToWire(field.type, v, fieldPath, side);
    }
    return out;
  }

  private valueToWire(type: FieldType, v: unknown, path: Path, side: Side): unknown {
    switch (type.kind) {
      case 'scalar':
        return scalarToWire(type.scalar, v, path, side);
      case 'timestamp': {
        if (!(v instanceof Date) || Number.isNaN(v.getTime())) bad(side, path, 'expected a valid Date', v);
        const ms = v.getTime();
        const seconds = Math.floor(ms / 1000);
        return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
      }
      case 'enum': {
        const e = this.enumOf(type.name);
        const no = e.byValue.get(v as string | number);
        if (no === undefined) bad(side, path, `expected one of ${e.allowed}`, v);
        return no;
      }
      case 'message':
        return this.toWire(this.message(type.name), v, path, side);
      case 'list': {
        if (!Array.isArray(v)) bad(side, path, `expected an array (${describeType(type)})`, v);
        const out = new Array<unknown>(v.length);
        for (let i = 0; i < v.length; i++) {
          const item = v[i];
          if (item === undefined || item === null) bad(side, at(path, i), 'array elements cannot be null or undefined', item);
          out[i] = this.valueToWire(type.element, item, at(path, i), side);
        }
        return out;
      }
      case 'map': {
        const out: Record<string, unknown> = {};
        const entries = type.js === 'map'
          ? (v instanceof Map ? [...v.entries()] : bad(side, path, 'expected a Map', v))
          : (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) ? Object.entries(v) : bad(side, path, 'expected an object (Record)', v));
        for (const [k, item] of entries) {
          const itemPath = at(path, JSON.stringify(typeof k === 'bigint' ? k.toString() : k));
          if (item === undefined || item === null) bad(side, itemPath, 'map values cannot be null or undefined', item);
          out[keyToWire(type.key, k, itemPath, side, type.js)] = this.valueToWire(type.value, item, itemPath, side);
        }
        return out;
      }
    }
  }

  /** protobufjs message → TypeScript value, checking what protobuf itself cannot. */
  fromWire(message: MessageSchema, decoded: Record<string, unknown>, path: Path, side: Side): Record<string, unknown> {
    if (message.discriminant !== undefined) {
      for (const field of message.fields) {
        if (!has(decoded, field.name)) continue;
        const variant = this.fromWire(this.message((field.type as { name: string }).name), decoded[field.name] as Record<string, unknown>, path, side);
        return { [message.discriminant]: field.tag, ...variant };
      }
      bad(side, path, `no variant of ${message.name} is set (expected ${message.discriminant} = ${message.fields.map((f) => JSON.stringify(f.tag)).join(' | ')})`, undefined);
    }
    const out: Record<string, unknown> = {};
    for (const field of message.fields) {
      const fieldPath = child(path, field.name);
      const present = has(decoded, field.name);
      const t = field.type;
      if (t.kind === 'list') {
        const list = (present ? decoded[field.name] : []) as unknown[];
        if (list.length === 0 && field.optional) continue;
        out[field.name] = list.map((item, i) => this.valueFromWire(t.element, item, at(fieldPath, i), side));
        continue;
      }
      if (t.kind === 'map') {
        const map = (present ? decoded[field.name] : {}) as Record<string, unknown>;
        const keys = Object.keys(map);
        if (keys.length === 0 && field.optional) continue;
        const entries = keys.map((k) => [keyFromWire(t.key, k), this.valueFromWire(t.value, map[k], at(fieldPath, JSON.stringify(k)), side)] as const);
        out[field.name] = t.js === 'map' ? new Map(entries) : Object.fromEntries(entries);
        continue;
      }
      if (!present || decoded[field.name] === null) {
        if (field.nullable) out[field.name] = null;
        else if (field.optional) continue;
        else out[field.name] = this.defaultOf(t, fieldPath, side);
        continue;
      }
      out[field.name] = this.valueFromWire(t, decoded[field.name], fieldPath, side);
    }
    return out;
  }

  private valueFromWire(type: FieldType, v: unknown, path: Path, side: Side): unknown {
    switch (type.kind) {
      case 'scalar':
        return scalarFromWire(type.scalar, v);
      case 'timestamp': {
        const ts = v as { seconds?: unknown; nanos?: number };
        const seconds = Number(longToBigInt(ts.seconds ?? 0, false));
        const date = new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1_000_000));
        if (Number.isNaN(date.getTime())) bad(side, path, 'the timestamp is out of the range of a Date', v);
        return date;
      }
      case 'enum': {
        const e = this.enumOf(type.name);
        const value = e.byNumber.get(v as number);
        if (value === undefined) bad(side, path, `${v === 0 ? 'no value is set' : `the number ${String(v)} is not a value`} of the enum ${type.name} (expected one of ${e.allowed})`, undefined);
        return value;
      }
      case 'message':
        return this.fromWire(this.message(type.name), v as Record<string, unknown>, path, side);
      case 'list':
      case 'map':
        throw new RpcError('INTERNAL', `nested ${type.kind} at ${path ?? '?'} is not in the schema format; regenerate with svc-gen`);
    }
  }

  /** The value of a required field the sender left at its zero value (proto3 omits zeros). */
  private defaultOf(type: FieldType, path: Path, side: Side): unknown {
    if (type.kind === 'scalar') {
      if (type.scalar === 'string') return '';
      if (type.scalar === 'bool') return false;
      if (type.scalar === 'bytes') return new Uint8Array(0);
      return isLongScalar(type.scalar) ? 0n : 0;
    }
    if (type.kind === 'enum') return this.valueFromWire(type, 0, path, side);
    return bad(side, path, `is required (${describeType(type)}) but missing`, undefined);
  }

  private enumOf(name: string): EnumMaps {
    const e = this.enums.get(name);
    if (!e) throw new RpcError('INTERNAL', `the schema of ${this.schema.service} has no enum ${name}; regenerate it with svc-gen`);
    return e;
  }
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

function scalarToWire(scalar: ScalarName, v: unknown, path: Path, side: Side): unknown {
  switch (scalar) {
    case 'double':
    case 'float':
      if (typeof v !== 'number') bad(side, path, `expected a number (${scalar})`, v);
      return v;
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) bad(side, path, `expected an integer from ${INT32_MIN} to ${INT32_MAX} (${scalar})`, v);
      return v;
    case 'uint32':
    case 'fixed32':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > UINT32_MAX) bad(side, path, `expected an integer from 0 to ${UINT32_MAX} (${scalar})`, v);
      return v;
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      if (typeof v !== 'bigint' || v < INT64_MIN || v > INT64_MAX) bad(side, path, `expected a bigint from ${INT64_MIN} to ${INT64_MAX} (${scalar})`, v);
      return bigIntToBits(v);
    case 'uint64':
    case 'fixed64':
      if (typeof v !== 'bigint' || v < 0n || v > UINT64_MAX) bad(side, path, `expected a bigint from 0 to ${UINT64_MAX} (${scalar})`, v);
      return bigIntToBits(v);
    case 'bool':
      if (typeof v !== 'boolean') bad(side, path, 'expected a boolean', v);
      return v;
    case 'string':
      if (typeof v !== 'string') bad(side, path, 'expected a string', v);
      return v;
    case 'bytes':
      if (!(v instanceof Uint8Array)) bad(side, path, 'expected a Uint8Array', v);
      return v;
  }
}

function scalarFromWire(scalar: ScalarName, v: unknown): unknown {
  if (isLongScalar(scalar)) return longToBigInt(v, scalar === 'uint64' || scalar === 'fixed64');
  if (scalar === 'bytes') {
    const bytes = v as Uint8Array;
    return bytes.length === 0 ? new Uint8Array(0) : new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  }
  return v;
}

function keyToWire(key: string, k: unknown, path: Path, side: Side, js: 'map' | 'record'): string {
  if (js === 'record') return k as string;
  if (key === 'string') {
    if (typeof k !== 'string') bad(side, path, 'expected a string key', k);
    return k;
  }
  if (key === 'bool') {
    if (typeof k !== 'boolean') bad(side, path, 'expected a boolean key', k);
    return String(k);
  }
  const wire = scalarToWire(key as ScalarName, k, path, side);
  return isLongScalar(key as ScalarName) ? (k as bigint).toString() : String(wire);
}

function keyFromWire(key: string, k: string): unknown {
  if (key === 'string') return k;
  if (key === 'bool') return k === 'true' || k === '1';
  if (isLongScalar(key as ScalarName)) {
    const unsigned = key === 'uint64' || key === 'fixed64';
    if (/^-?[0-9]+$/.test(k)) return BigInt(k);
    return longToBigInt(protobuf.util.longFromHash(k, unsigned), unsigned);
  }
  return Number(k);
}

function bigIntToBits(v: bigint): { low: number; high: number } {
  const u = BigInt.asUintN(64, v);
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0 };
}

function longToBigInt(v: unknown, unsigned: boolean): bigint {
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string') return BigInt(v);
  const long = v as { low: number; high: number };
  const low = BigInt(long.low >>> 0);
  return unsigned ? (BigInt(long.high >>> 0) << 32n) | low : (BigInt(long.high | 0) << 32n) + low;
}

function has(object: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

function describeType(type: FieldType): string {
  switch (type.kind) {
    case 'scalar': return type.scalar;
    case 'timestamp': return 'Date';
    case 'message':
    case 'enum':
      return type.name;
    case 'list': return `${describeType(type.element)}[]`;
    case 'map': return `${type.js === 'map' ? 'Map' : 'Record'}<${type.key}, ${describeType(type.value)}>`;
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'an invalid Date' : 'a Date';
  if (v instanceof Map) return 'a Map';
  if (v instanceof Uint8Array) return 'a Uint8Array';
  return typeof v === 'object' ? 'an object' : typeof v;
}

/** A value that does not fit its schema: INVALID_ARGUMENT for requests, INTERNAL for responses. */
export function bad(side: Side, path: Path, expected: string, got: unknown): never {
  if (path === null) throw RETRY_WITH_PATHS;
  const where = path === '' ? side : `${side}.${path}`;
  const message = `${where} ${expected.startsWith('is ') || expected.startsWith('no ') || expected.startsWith('the ') ? expected : `${expected}, got ${show(got)}`}`;
  throw new RpcError(side === 'request' ? 'INVALID_ARGUMENT' : 'INTERNAL', message, { details: { field: where } });
}

export { EMPTY_BYTES };
export type { FieldSchema };
