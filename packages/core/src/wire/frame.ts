import { type FrameHeader, encodeHeader } from './header.js';
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

/** One frame as a single buffer, ready for a socket write. */
export function encodeFrame(header: FrameHeader, body: Uint8Array = EMPTY, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): Buffer {
  const head = encodeHeader(header);
  const total = 4 + head.length + body.length;
  if (total > maxFrameSize) throw frameTooLarge(total, maxFrameSize);
  const out = Buffer.allocUnsafe(PREFIX_BYTES + head.length + body.length);
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = WIRE_VERSION;
  out.writeUInt32BE(total, 3);
  out.writeUInt32BE(head.length, 7);
  out.set(head, PREFIX_BYTES);
  out.set(body, PREFIX_BYTES + head.length);
  return out;
}
