import { invalidMetadata, metadataTooLarge } from './errors/framework-errors.js';

/**
 * Call metadata: string keys to string values, sent in the frame header. Request metadata goes
 * from caller to handler, response metadata from handler (`ctx.sendMetadata`) back to the caller.
 *
 * What it may hold, checked before anything is sent (a breach is an RpcError naming the key:
 * INVALID_ARGUMENT for request metadata, INTERNAL for response metadata, RESOURCE_EXHAUSTED over
 * a cap):
 * - values are strings: a number, `undefined`, `null` or an object is refused, never coerced;
 * - keys and values may be any Unicode, sent as UTF-8, empty ones included; a lone surrogate is
 *   refused, since it would arrive as U+FFFD; keys are case-sensitive;
 * - own enumerable keys are sent, inherited ones never; `__proto__` and `constructor` are ordinary keys;
 * - at most `maxMetadataEntries` entries (default 64) and `maxMetadataBytes` bytes of keys and
 *   values in UTF-8 (default 16 KiB), on each side's options.
 *
 * Metadata a side receives (`ctx.metadata`, `onMetadata`) is a map without Object.prototype: read
 * it with `md[key]`, `Object.keys(md)`, `Object.hasOwn(md, key)`; it has no `hasOwnProperty` or
 * `toString` of its own, so an inherited key never reads as a sent one.
 */
export type Metadata = Record<string, string>;

/**
 * Caps near grpc-js's (8 KiB for all metadata by default) but twice its bytes, since our bytes
 * count keys and values only and a bearer token plus a trace context must fit comfortably; 64
 * entries is far above what calls carry (a handful) and bounds the map a peer can make us build.
 */
export const DEFAULT_MAX_METADATA_ENTRIES = 64;
export const DEFAULT_MAX_METADATA_BYTES = 16 * 1024;

export interface MetadataLimits {
  /** Entries one call's metadata may have. */
  readonly maxMetadataEntries: number;
  /** Bytes of keys and values together, in UTF-8. */
  readonly maxMetadataBytes: number;
}

export const DEFAULT_METADATA_LIMITS: MetadataLimits = Object.freeze({ maxMetadataEntries: DEFAULT_MAX_METADATA_ENTRIES, maxMetadataBytes: DEFAULT_MAX_METADATA_BYTES });

/** The caps an options object asks for, defaults for what it leaves out. */
export function metadataLimits(options: Partial<MetadataLimits> | undefined): MetadataLimits {
  if (options?.maxMetadataEntries === undefined && options?.maxMetadataBytes === undefined) return DEFAULT_METADATA_LIMITS;
  return Object.freeze({
    maxMetadataEntries: options.maxMetadataEntries ?? DEFAULT_MAX_METADATA_ENTRIES,
    maxMetadataBytes: options.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES,
  });
}

/**
 * Instances are ordinary objects whose prototype is an empty frozen object without
 * Object.prototype behind it: no inherited keys, and `__proto__` is a plain key. Measured with
 * 1 to 3 entries, building and reading one costs the same as `{}`, while Object.create(null)
 * (which V8 starts in dictionary mode) cost five times as much.
 */
function MetadataMap(): void {}
MetadataMap.prototype = Object.freeze(Object.create(null) as object);
const MetadataMapClass = MetadataMap as unknown as new () => Metadata;

/** An empty metadata map without Object.prototype, as received metadata is. */
export function createMetadata(): Metadata {
  return new MetadataMapClass();
}

const hasOwn = Object.prototype.hasOwnProperty;

/** A copy of `from`'s own entries in a map without Object.prototype. */
export function copyMetadata(from: Metadata): Metadata {
  const to = new MetadataMapClass();
  for (const key in from) if (hasOwn.call(from, key)) to[key] = from[key]!;
  return to;
}

/** String.prototype.isWellFormed (ES2024, in Node since 20). */
function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/**
 * Checks metadata about to be sent (or handed on) against the rules of `Metadata`; returns its
 * number of entries. Throws an RpcError naming the first bad key, or the cap it exceeds.
 */
export function checkMetadata(metadata: unknown, what: 'request' | 'response' | 'event', limits: MetadataLimits): number {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw invalidMetadata(what, undefined, metadata);
  const md = metadata as Record<string, unknown>;
  let entries = 0;
  let units = 0;
  for (const key in md) {
    if (!hasOwn.call(md, key)) continue;
    const value = md[key];
    if (typeof value !== 'string' || !isWellFormed(key) || !isWellFormed(value)) throw invalidMetadata(what, key, value);
    entries++;
    units += key.length + value.length;
  }
  if (entries > limits.maxMetadataEntries) throw metadataTooLarge(what, 'entries', entries, limits.maxMetadataEntries);
  // UTF-8 takes at most 3 bytes per UTF-16 unit: bytes are counted only when that bound is over the cap.
  if (units * 3 > limits.maxMetadataBytes) {
    let bytes = 0;
    for (const key in md) if (hasOwn.call(md, key)) bytes += Buffer.byteLength(key) + Buffer.byteLength(md[key] as string);
    if (bytes > limits.maxMetadataBytes) throw metadataTooLarge(what, 'bytes', bytes, limits.maxMetadataBytes);
  }
  return entries;
}

/**
 * `into` with `from`'s own entries added, as a new map (neither is changed); `from` itself when
 * there is nothing to add it to, or when it is not an object (then checkMetadata refuses it).
 */
export function mergeMetadata(into: Metadata | undefined, from: Metadata): Metadata {
  if (into === undefined || typeof from !== 'object' || from === null) return from;
  const merged = copyMetadata(into);
  for (const key in from) if (hasOwn.call(from, key)) merged[key] = from[key]!;
  return merged;
}
