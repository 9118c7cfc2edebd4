import type { Metadata } from '../metadata.js';

/**
 * The frame header: a small protobuf message, so that any language with protobuf can speak the
 * wire (docs/wire-format.md has its .proto). Field numbers are fixed forever.
 *
 * It is encoded and decoded by hand rather than through a protobuf library: it is on every
 * call's path, has a dozen known fields, and this way it is sized once and written straight into
 * the frame buffer with no intermediate allocations.
 */
export const FrameKind = {
  REQUEST: 1,
  RESPONSE: 2,
  PING: 3,
  PONG: 4,
  CANCEL: 5,
  GOAWAY: 6,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export const Compression = { NONE: 0, GZIP: 1, DEFLATE: 2 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

/** The header fields besides kind and id: request and response messages carry them as they are. */
export interface HeaderFields {
  service?: string | undefined;
  method?: string | undefined;
  /** Codec name of the body ('json', 'protobuf', ...). */
  codec?: string | undefined;
  compression?: Compression | undefined;
  /** Remaining time in milliseconds when the frame was written; 0 or absent: no deadline. */
  timeoutMs?: number | undefined;
  metadata?: Metadata | undefined;
  /** Status code number on responses and goaway; 0 is OK. */
  status?: number | undefined;
  message?: string | undefined;
  /** JSON text of RpcError.details. */
  details?: string | undefined;
  /** The server's stack trace, only when the server opts in. */
  stack?: string | undefined;
}

export interface FrameHeader extends HeaderFields {
  kind: FrameKind;
  /** Request id, unique among the calls in flight on one connection; 0 for connection frames. */
  id: number;
}

// Tags: (field number << 3) | wire type (0 varint, 2 length-delimited).
const T_KIND = 0x08;
const T_ID = 0x10;
const T_SERVICE = 0x1a;
const T_METHOD = 0x22;
const T_CODEC = 0x2a;
const T_COMPRESSION = 0x30;
const T_TIMEOUT = 0x38;
const T_METADATA = 0x42;
const T_STATUS = 0x48;
const T_MESSAGE = 0x52;
const T_DETAILS = 0x5a;
const T_STACK = 0x62;
const T_ENTRY_KEY = 0x0a;
const T_ENTRY_VALUE = 0x12;

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function stringField(s: string | undefined): number {
  if (!s) return 0;
  const n = Buffer.byteLength(s);
  return 1 + varintSize(n) + n;
}

/** Bytes the encoded header will take. */
export function headerSize(id: number, h: HeaderFields, timeoutMs: number): number {
  let n = 2;
  if (id) n += 1 + varintSize(id >>> 0);
  n += stringField(h.service) + stringField(h.method) + stringField(h.codec);
  if (h.compression) n += 2;
  if (timeoutMs) n += 1 + varintSize(timeoutMs >>> 0);
  const md = h.metadata;
  if (md) {
    for (const key in md) {
      const entry = entrySize(key, md[key]!);
      n += 1 + varintSize(entry) + entry;
    }
  }
  if (h.status) n += 1 + varintSize(h.status);
  n += stringField(h.message) + stringField(h.details) + stringField(h.stack);
  return n;
}

function entrySize(key: string, value: string): number {
  const k = Buffer.byteLength(key);
  const v = Buffer.byteLength(value);
  return 1 + varintSize(k) + k + 1 + varintSize(v) + v;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  v >>>= 0;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

function writeString(buf: Buffer, pos: number, tag: number, s: string): number {
  buf[pos++] = tag;
  const n = Buffer.byteLength(s);
  pos = writeVarint(buf, pos, n);
  return pos + buf.write(s, pos);
}

/** Writes the header at `pos` (exactly headerSize() bytes); returns the position after it. */
export function writeHeader(buf: Buffer, pos: number, kind: FrameKind, id: number, h: HeaderFields, timeoutMs: number): number {
  buf[pos++] = T_KIND;
  buf[pos++] = kind;
  if (id) {
    buf[pos++] = T_ID;
    pos = writeVarint(buf, pos, id);
  }
  if (h.service) pos = writeString(buf, pos, T_SERVICE, h.service);
  if (h.method) pos = writeString(buf, pos, T_METHOD, h.method);
  if (h.codec) pos = writeString(buf, pos, T_CODEC, h.codec);
  if (h.compression) {
    buf[pos++] = T_COMPRESSION;
    buf[pos++] = h.compression;
  }
  if (timeoutMs) {
    buf[pos++] = T_TIMEOUT;
    pos = writeVarint(buf, pos, timeoutMs);
  }
  const md = h.metadata;
  if (md) {
    for (const key in md) {
      const value = md[key]!;
      buf[pos++] = T_METADATA;
      pos = writeVarint(buf, pos, entrySize(key, value));
      pos = writeString(buf, pos, T_ENTRY_KEY, key);
      pos = writeString(buf, pos, T_ENTRY_VALUE, value);
    }
  }
  if (h.status) {
    buf[pos++] = T_STATUS;
    pos = writeVarint(buf, pos, h.status);
  }
  if (h.message) pos = writeString(buf, pos, T_MESSAGE, h.message);
  if (h.details) pos = writeString(buf, pos, T_DETAILS, h.details);
  if (h.stack) pos = writeString(buf, pos, T_STACK, h.stack);
  return pos;
}

export function encodeHeader(h: FrameHeader): Uint8Array {
  const timeoutMs = h.timeoutMs ?? 0;
  const buf = Buffer.allocUnsafe(headerSize(h.id, h, timeoutMs));
  writeHeader(buf, 0, h.kind, h.id, h, timeoutMs);
  return buf;
}

/** A cursor over header bytes; every read checks bounds, so a malformed header throws. */
class HeaderReader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      if (shift < 28) result |= (b & 0x7f) << shift;
      else if (shift === 28) result += (b & 0x7f) * 0x10000000;
      else if (shift >= 63) throw new Error('varint too long');
      if (b < 0x80) return shift < 28 ? result >>> 0 : result;
      shift += 7;
    }
  }

  /** Reads a length prefix and steps over the bytes; returns where they start (they end at pos). */
  private span(): number {
    const n = this.varint();
    const start = this.pos;
    if (start + n > this.end) throw new Error('string runs past the end of the header');
    this.pos = start + n;
    return start;
  }

  string(): string {
    const start = this.span();
    return this.buf.toString('utf8', start, this.pos);
  }

  /** A name that repeats on every call (service, method, codec): the same string object again. */
  name(): string {
    const start = this.span();
    return internName(this.buf, start, this.pos);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const n = this.varint(); // read first: `this.pos += this.varint()` would lose the varint's bytes
        this.pos += n;
        break;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new Error(`invalid wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new Error('field runs past the end of the header');
  }
}

/**
 * Recently seen names and their bytes. Every call carries the same few service, method and codec
 * names; handing back the string already made saves three allocations per frame.
 */
const NAME_SLOTS = 64;
const internedBytes: (Buffer | undefined)[] = new Array<Buffer | undefined>(NAME_SLOTS);
const internedNames: string[] = new Array<string>(NAME_SLOTS);
let nextSlot = 0;

function internName(buf: Buffer, start: number, end: number): string {
  const length = end - start;
  if (length > 64) return buf.toString('utf8', start, end);
  search: for (let i = 0; i < NAME_SLOTS; i++) {
    const known = internedBytes[i];
    if (known === undefined) break;
    if (known.length !== length) continue;
    for (let j = 0; j < length; j++) if (known[j] !== buf[start + j]) continue search;
    return internedNames[i]!;
  }
  const name = buf.toString('utf8', start, end);
  internedBytes[nextSlot] = Buffer.from(buf.subarray(start, end));
  internedNames[nextSlot] = name;
  nextSlot = (nextSlot + 1) % NAME_SLOTS;
  return name;
}

/** Decodes a header; throws on malformed bytes (the caller turns that into a protocol error). */
export function decodeHeader(bytes: Uint8Array, start = 0, end = bytes.length): FrameHeader {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return readHeader(buf, start, end, { kind: 0 as FrameKind, id: 0 });
}

/** Reads header fields into `h` (only those present are assigned); throws on malformed bytes. */
export function readHeader<H extends FrameHeader>(buf: Buffer, start: number, end: number, h: H): H {
  const r = new HeaderReader(buf, start, end);
  while (r.pos < end) {
    const tag = r.varint();
    switch (tag) {
      case T_KIND: h.kind = r.varint() as FrameKind; break;
      case T_ID: h.id = r.varint(); break;
      case T_SERVICE: h.service = r.name(); break;
      case T_METHOD: h.method = r.name(); break;
      case T_CODEC: h.codec = r.name(); break;
      case T_COMPRESSION: h.compression = r.varint() as Compression; break;
      case T_TIMEOUT: h.timeoutMs = r.varint(); break;
      case T_METADATA: {
        const entryLength = r.varint();
        const entryEnd = r.pos + entryLength;
        if (entryEnd > end) throw new Error('metadata entry runs past the end of the header');
        let key = '';
        let value = '';
        while (r.pos < entryEnd) {
          const t = r.varint();
          if (t === T_ENTRY_KEY) key = r.string();
          else if (t === T_ENTRY_VALUE) value = r.string();
          else r.skip(t & 7);
        }
        (h.metadata ??= {})[key] = value;
        break;
      }
      case T_STATUS: h.status = r.varint(); break;
      case T_MESSAGE: h.message = r.string(); break;
      case T_DETAILS: h.details = r.string(); break;
      case T_STACK: h.stack = r.string(); break;
      default: r.skip(tag & 7); // unknown fields from newer peers are skipped
    }
  }
  return h;
}
