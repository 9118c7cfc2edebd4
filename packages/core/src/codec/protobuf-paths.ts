import { schemaViolation } from '../errors/framework-errors.js';
import type { FieldType } from './protobuf-schema.js';

/** Which side a value is on: a bad request is the caller's fault, a bad response the server's. */
export type Side = 'request' | 'response';

/**
 * Where a value is: `items[2].when`, '' at the top, or null when not tracked. Valid values
 * (nearly all) are converted with null, building no strings; a bad one throws RETRY_WITH_PATHS
 * and the caller converts again with paths to report where (see `withPaths`).
 */
export type Path = string | null;

const RETRY_WITH_PATHS = Symbol('retry with paths');

export function child(path: Path, name: string): Path {
  return path === null ? null : path === '' ? name : `${path}.${name}`;
}

export function at(path: Path, index: number | string): Path {
  return path === null ? null : `${path}[${index}]`;
}

/**
 * What a conversion is of, for the words of its errors: `Catalog.echo: request.points[0].x …`,
 * `event 'orders.created': payload.qty …`.
 */
export interface Subject {
  /** `Catalog.echo`, `event 'orders.created'`; undefined for none. */
  readonly label: string | undefined;
  /** What the value is called: request, response, payload. */
  readonly noun: string;
  /** The value travels as the field `value` of its message: the message leaves `.value` out. */
  readonly wrapped: boolean;
  /** `details.field` leaves it out too (events; a method's field keeps it, as it always has). */
  readonly wrappedField: boolean;
}

/** The subject of the conversion being retried with paths; set only while `withPaths` retries. */
let subject: Subject | undefined;

/** Runs a conversion without paths; on a bad value, runs it again with paths for the message. */
export function withPaths<T>(convert: (path: Path) => T, about?: Subject): T {
  try {
    return convert(null);
  } catch (error) {
    if (error !== RETRY_WITH_PATHS) throw error;
    const outer = subject;
    subject = about;
    try {
      return convert('');
    } finally {
      subject = outer;
    }
  }
}

export function describeType(type: FieldType): string {
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

/** `value.x` → `.x`, `value` → '', `value[2]` → `[2]`: the path of a wrapped value without its wrapper. */
function unwrapped(path: string): string {
  if (path === 'value') return '';
  return path.startsWith('value.') || path.startsWith('value[') ? path.slice(5) : `.${path}`;
}

/** A value that does not fit its schema: INVALID_ARGUMENT for requests, INTERNAL for responses. */
export function bad(side: Side, path: Path, expected: string, got: unknown): never {
  if (path === null) throw RETRY_WITH_PATHS;
  const problem = expected.startsWith('is ') || expected.startsWith('no ') || expected.startsWith('the ') ? expected : `${expected}, got ${show(got)}`;
  const s = subject;
  const rest = path === '' ? '' : `.${path}`;
  if (s === undefined) throw schemaViolation(side, `${side}${rest}`, problem);
  const shown = `${s.noun}${s.wrapped && path !== '' ? unwrapped(path) : rest}`;
  throw schemaViolation(side, s.wrappedField ? shown : `${s.noun}${rest}`, problem, s.label, shown);
}
