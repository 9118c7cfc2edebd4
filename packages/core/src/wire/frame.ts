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
  const out = Buffer.allocUnsafe(checkedFrameBytes(headLength, body.length, maxFrameSize));
  writeFrameAt(out, 0, kind, id, fields, timeoutMs, body, headLength);
  return out;
}

/** Bytes the whole frame takes (prefix included); throws if it exceeds the frame size. */
export function checkedFrameBytes(headLength: number, bodyLength: number, maxFrameSize: number): number {
  const total = 4 + headLength + bodyLength;
  if (total > maxFrameSize) throw frameTooLarge(total, maxFrameSize);
  return PREFIX_BYTES + headLength + bodyLength;
}

/**
 * Writes a frame at `pos` of `out`, which has room for it (checkedFrameBytes), with the header
 * length headerSize() gave; returns the position after it. Lets a transport write frames one
 * after another into one buffer of its own.
 */
export function writeFrameAt(out: Buffer, pos: number, kind: FrameKind, id: number, fields: HeaderFields, timeoutMs: number, body: Uint8Array, headLength: number): number {
  const bodyAt = writeFrameHeadAt(out, pos, kind, id, fields, timeoutMs, body.length, headLength);
  out.set(body, bodyAt);
  return bodyAt + body.length;
}

/**
 * Writes all of a frame but its body (prefix and header, for a body of `bodyLength` bytes) at
 * `pos`; returns where the body goes. For a transport that sends a large body as it is, after
 * the head, rather than copy it (frame-connection.ts in @svc/transport-tcp).
 */
export function writeFrameHeadAt(out: Buffer, pos: number, kind: FrameKind, id: number, fields: HeaderFields, timeoutMs: number, bodyLength: number, headLength: number): number {
  out[pos] = MAGIC_0;
  out[pos + 1] = MAGIC_1;
  out[pos + 2] = WIRE_VERSION;
  out.writeUInt32BE(4 + headLength + bodyLength, pos + 3);
  out.writeUInt32BE(headLength, pos + 7);
  return writeHeader(out, pos + PREFIX_BYTES, kind, id, fields, timeoutMs);
}
