import { Compression, type HeaderFields } from '../wire/header.js';

const PLAIN: HeaderFields = {};
const GZIP: HeaderFields = { compression: Compression.GZIP };
const DEFLATE: HeaderFields = { compression: Compression.DEFLATE };

/** The header fields of a stream's MESSAGE frame: only its body's compression. One object per flag, so a transport allocates none per message. */
export function messageFields(compression: Compression | undefined): HeaderFields {
  return compression === Compression.GZIP ? GZIP : compression === Compression.DEFLATE ? DEFLATE : PLAIN;
}
