import protobuf from 'protobufjs';
import { bad, type Path, type Side } from './protobuf-paths.js';
import { isLongScalar, type ScalarName } from './protobuf-schema.js';

/** Converts one value of a field or map key. */
export type Encode = (v: unknown, path: Path, side: Side) => unknown;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

export function scalarEncoder(scalar: ScalarName): Encode {
  switch (scalar) {
    case 'double':
    case 'float': {
      const expected = `expected a number (${scalar})`;
      return (v, path, side) => (typeof v === 'number' ? v : bad(side, path, expected, v));
    }
    case 'string':
      return (v, path, side) => (typeof v === 'string' ? v : bad(side, path, 'expected a string', v));
    case 'bool':
      return (v, path, side) => (typeof v === 'boolean' ? v : bad(side, path, 'expected a boolean', v));
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return (v, path, side) => (typeof v === 'number' && (v | 0) === v ? v : scalarToWire(scalar, v, path, side));
    default:
      return (v, path, side) => scalarToWire(scalar, v, path, side);
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

export function scalarFromWire(scalar: ScalarName, v: unknown): unknown {
  if (isLongScalar(scalar)) return longToBigInt(v, scalar === 'uint64' || scalar === 'fixed64');
  if (scalar === 'bytes') {
    const bytes = v as Uint8Array;
    return bytes.length === 0 ? new Uint8Array(0) : new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  }
  return v;
}

export function keyToWire(key: string, k: unknown, path: Path, side: Side, js: 'map' | 'record'): string {
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

export function keyFromWire(key: string, k: string): unknown {
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

export function longToBigInt(v: unknown, unsigned: boolean): bigint {
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string') return BigInt(v);
  const long = v as { low: number; high: number };
  const low = BigInt(long.low >>> 0);
  return unsigned ? (BigInt(long.high >>> 0) << 32n) | low : (BigInt(long.high | 0) << 32n) + low;
}
