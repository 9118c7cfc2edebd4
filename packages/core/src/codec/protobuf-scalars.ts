import protobuf from 'protobufjs';
import { bad, type Path, type Side } from './protobuf-paths.js';
import { isLongScalar, type FieldType, type ScalarName } from './protobuf-schema.js';

/** Writes one value (no tag); checks it first. */
export type Write = (w: protobuf.Writer, v: unknown, path: Path, side: Side) => void;
/** Reads one value (its tag already read). */
export type Read = (r: protobuf.Reader, path: Path, side: Side) => unknown;

export const VARINT = 0;
export const FIXED64 = 1;
export const DELIMITED = 2;
export const FIXED32 = 5;

export const WIRE_TYPE: Record<ScalarName, number> = {
  double: FIXED64, float: FIXED32,
  int32: VARINT, uint32: VARINT, sint32: VARINT, fixed32: FIXED32, sfixed32: FIXED32,
  int64: VARINT, uint64: VARINT, sint64: VARINT, fixed64: FIXED64, sfixed64: FIXED64,
  bool: VARINT, string: DELIMITED, bytes: DELIMITED,
};

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * Lone surrogates (half a UTF-16 pair, e.g. '\uD800') have no UTF-8 form: they are written as
 * U+FFFD, as Buffer, TextEncoder and the platform's other UTF-8 writers do, so that protoc and
 * other languages read every message the codec writes. protobufjs (8.x) writes a string shorter
 * than 40 UTF-16 units with its own UTF-8 writer, which wrote a lone surrogate as the invalid bytes
 * ED A0 80, and longer ones through Buffer (U+FFFD). So a string shorter than 128 units that did
 * not come out as ASCII (one byte per unit after a one-byte length) is checked, and written again
 * well-formed if it has to be; ASCII strings, nearly all of them, cost a comparison. Longer ones
 * are left to Buffer rather than scanned twice. codec-surrogates.test.ts tries the lengths around
 * 40 and 128, so a protobufjs that moves its threshold is noticed.
 */
const CHECKED_BELOW = 128;

interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// String.prototype.isWellFormed is in Node 20; the fallback is for older engines.
const isWellFormed: (s: string) => boolean = typeof (String.prototype as Partial<WellFormedString>).isWellFormed === 'function'
  ? (s) => (s as unknown as WellFormedString).isWellFormed()
  : (s) => !new RegExp(LONE_SURROGATE.source).test(s);
const toWellFormed: (s: string) => string = typeof (String.prototype as Partial<WellFormedString>).toWellFormed === 'function'
  ? (s) => (s as unknown as WellFormedString).toWellFormed()
  : (s) => s.replace(LONE_SURROGATE, '\uFFFD');

/** Whether a Writer's `pos` is its write cursor, which may be set back (protobufjs 8). */
function hasCursor(): boolean {
  try {
    const w = protobuf.Writer.create();
    w.string('ab');
    if (w.pos !== 3) return false;
    w.pos = 0;
    w.string('c');
    const out = w.finish();
    return out.length === 2 && out[0] === 1 && out[1] === 99;
  } catch {
    return false;
  }
}

/**
 * The string writer: after the write when the Writer's cursor can be set back (only a string that
 * is not ASCII is looked at), else before it (every short string is looked at).
 * @internal exported for the test of both.
 */
export function stringWriter(cursor: boolean): Write {
  if (!cursor) {
    return (w, v, path, side) => void (typeof v === 'string' ? w.string(v.length < CHECKED_BELOW && !isWellFormed(v) ? toWellFormed(v) : v) : bad(side, path, 'expected a string', v));
  }
  return (w, v, path, side) => {
    if (typeof v !== 'string') return bad(side, path, 'expected a string', v);
    const start = w.pos;
    w.string(v);
    if (v.length < CHECKED_BELOW && w.pos - start !== v.length + 1 && !isWellFormed(v)) {
      w.pos = start;
      w.string(toWellFormed(v));
    }
  };
}

const writeString = stringWriter(hasCursor());

export function scalarWriter(scalar: ScalarName): Write {
  switch (scalar) {
    case 'double': return (w, v, path, side) => void (typeof v === 'number' ? w.double(v) : bad(side, path, 'expected a number (double)', v));
    case 'float': return (w, v, path, side) => void (typeof v === 'number' ? w.float(v) : bad(side, path, 'expected a number (float)', v));
    case 'string': return writeString;
    case 'bool': return (w, v, path, side) => void (typeof v === 'boolean' ? w.bool(v) : bad(side, path, 'expected a boolean', v));
    case 'bytes': return (w, v, path, side) => void (v instanceof Uint8Array ? w.bytes(v) : bad(side, path, 'expected a Uint8Array', v));
    case 'int32': return (w, v, path, side) => void w.int32(typeof v === 'number' && (v | 0) === v ? v : (scalarToWire('int32', v, path, side) as number));
    case 'sint32': return (w, v, path, side) => void w.sint32(scalarToWire('sint32', v, path, side) as number);
    case 'sfixed32': return (w, v, path, side) => void w.sfixed32(scalarToWire('sfixed32', v, path, side) as number);
    case 'uint32': return (w, v, path, side) => void w.uint32(scalarToWire('uint32', v, path, side) as number);
    case 'fixed32': return (w, v, path, side) => void w.fixed32(scalarToWire('fixed32', v, path, side) as number);
    case 'int64': return (w, v, path, side) => void w.int64(scalarToWire('int64', v, path, side) as protobuf.Long);
    case 'uint64': return (w, v, path, side) => void w.uint64(scalarToWire('uint64', v, path, side) as protobuf.Long);
    case 'sint64': return (w, v, path, side) => void w.sint64(scalarToWire('sint64', v, path, side) as protobuf.Long);
    case 'fixed64': return (w, v, path, side) => void w.fixed64(scalarToWire('fixed64', v, path, side) as protobuf.Long);
    case 'sfixed64': return (w, v, path, side) => void w.sfixed64(scalarToWire('sfixed64', v, path, side) as protobuf.Long);
  }
}

export function scalarReader(scalar: ScalarName): Read {
  switch (scalar) {
    case 'double': return (r) => r.double();
    case 'float': return (r) => r.float();
    case 'string': return (r) => r.string();
    case 'bool': return (r) => r.bool();
    case 'bytes': return (r) => {
      const b = r.bytes();
      if (b.length === 0) return new Uint8Array(0);
      // A plain Uint8Array either way (not a Buffer). Large bytes are a view of what arrived, not a
      // copy (a 64 KiB stream message spent 15 % of its receiver's CPU copying): a view keeps its
      // buffer alive, so only bytes that fill at least half of it are left there, and holding the
      // value never holds more than twice its size. Small ones are copied out of a big read.
      if (b.length * 2 >= b.buffer.byteLength) return new Uint8Array(b.buffer, b.byteOffset, b.length);
      return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    };
    case 'int32': return (r) => r.int32();
    case 'sint32': return (r) => r.sint32();
    case 'sfixed32': return (r) => r.sfixed32();
    case 'uint32': return (r) => r.uint32();
    case 'fixed32': return (r) => r.fixed32();
    case 'int64': return (r) => longToBigInt(r.int64(), false);
    case 'uint64': return (r) => longToBigInt(r.uint64(), true);
    case 'sint64': return (r) => longToBigInt(r.sint64(), false);
    case 'fixed64': return (r) => longToBigInt(r.fixed64(), true);
    case 'sfixed64': return (r) => longToBigInt(r.sfixed64(), false);
  }
}

/** proto3 leaves out a field at its zero value (unless it is `optional`). */
export function zeroTest(type: FieldType): ((v: unknown) => boolean) | undefined {
  if (type.kind === 'enum') return undefined; // the enum's 0 is "unset"; a mapped value is never 0 unless a TS enum says so
  if (type.kind !== 'scalar') return undefined;
  switch (type.scalar) {
    case 'string': return (v) => v === '';
    case 'bool': return (v) => v === false;
    case 'bytes': return (v) => v instanceof Uint8Array && v.length === 0;
    case 'double':
    case 'float':
      return (v) => v === 0 && !Object.is(v, -0);
    default:
      return isLongScalar(type.scalar) ? (v) => v === 0n : (v) => v === 0;
  }
}

export function scalarToWire(scalar: ScalarName, v: unknown, path: Path, side: Side): unknown {
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

function bigIntToBits(v: bigint): { low: number; high: number } {
  const u = BigInt.asUintN(64, v);
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0 };
}

export function longToBigInt(v: unknown, unsigned: boolean): bigint {
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string') return BigInt(v);
  const long = v as { low: number; high: number };
  const low = BigInt(long.low >>> 0);
  return unsigned ? (BigInt(long.high >>> 0) << 32n) | low : (BigInt(long.high | 0) << 32n) + low;
}
