import { Compression, type HeaderFields } from '../wire/header.js';

/** Frozen per flag combination, so a transport allocates none per message: [compression][blocked]. */
const FIELDS: readonly (readonly [HeaderFields, HeaderFields])[] = [Compression.NONE, Compression.GZIP, Compression.DEFLATE].map((compression) => [
  Object.freeze(compression === Compression.NONE ? {} : { compression }),
  Object.freeze(compression === Compression.NONE ? { blocked: true } : { compression, blocked: true }),
] as const);

/** The header fields of a stream's MESSAGE frame: its body's compression, and whether the sender waited for credit before it. */
export function messageFields(compression: Compression | undefined, blocked?: boolean): HeaderFields {
  return FIELDS[compression === Compression.GZIP || compression === Compression.DEFLATE ? compression : Compression.NONE]![blocked === true ? 1 : 0];
}
