import type { Codec, MethodSerializers } from './codec.js';

const EMPTY = new Uint8Array(0);

function encode(value: unknown): Uint8Array {
  // `undefined` (a void result) travels as an empty body.
  if (value === undefined) return EMPTY;
  return Buffer.from(JSON.stringify(value));
}

function decode(bytes: Uint8Array): unknown {
  if (bytes.length === 0) return undefined;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return JSON.parse(buf.toString('utf8'));
}

const JSON_SERIALIZERS: MethodSerializers = {
  encodeRequest: encode,
  decodeRequest: decode,
  encodeResponse: encode,
  decodeResponse: decode,
};

/**
 * The JSON codec carries any method, untyped: the fallback for services without a generated
 * descriptor. Values follow JSON.stringify (a Date becomes its ISO string, a bigint throws).
 */
export function jsonCodec(): Codec {
  return { name: 'json', forMethod: () => JSON_SERIALIZERS };
}
