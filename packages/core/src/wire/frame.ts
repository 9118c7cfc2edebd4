import { type FrameHeader, type FrameKind, type HeaderFields, headerSize, writeHeader } from './header.js';
import { frameTooLarge } from '../errors/framework-errors.js';

/**
 * | magic 2B 'SV' | version 1B | total length 4B | header length 4B | header | body |
 * All integers big-endian; total length counts everything after itself.
 */
export const MAGIC_0 = 0x53; // 'S'
export const MAGIC_1 = 0x56; // 'V'
export const WIRE_VERSION = 1;
export const PREFIX_BYTES = 11;
export const DEFAULT_MAX_FRAME_SIZE = 4 * 1024 * 1024;

const EMPTY = new Uint8Array(0);

/** One frame as a single buffer, ready for a socket write: sized once, written in place. */
export function encodeFrame(header: FrameHeader, body: Uint8Array = EMPTY, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): Buffer {
  return encodeFrameOf(header.kind, header.id, header, header.timeoutMs ?? 0, body, maxFrameSize);
}

/**
 * The same, with the header fields read from any object that has them (a RequestMessage or a
 * ResponseMessage as it is), so that the hot path builds no header object per frame.
 */
export function encodeFrameOf(kind: FrameKind, id: number, fields: HeaderFields, timeoutMs: number, body: Uint8Array, maxFrameSize: number): Buffer {
  const headLength = headerSize(id, fields, timeoutMs);
  const total = 4 + headLength + body.length;
  if (total > maxFrameSize) throw frameTooLarge(total, maxFrameSize);
  const out = Buffer.allocUnsafe(PREFIX_BYTES + headLength + body.length);
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = WIRE_VERSION;
  out.writeUInt32BE(total, 3);
  out.writeUInt32BE(headLength, 7);
  writeHeader(out, PREFIX_BYTES, kind, id, fields, timeoutMs);
  out.set(body, PREFIX_BYTES + headLength);
  return out;
}
