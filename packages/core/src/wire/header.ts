import { createMetadata, DEFAULT_METADATA_LIMITS, type Metadata, type MetadataLimits } from '../metadata.js';
import { RpcError, type Progress } from '../errors/rpc-error.js';
import { isRetryableCode } from '../errors/codes.js';
import { invalidMetadata, metadataTooLarge, protocolError, unencodableId } from '../errors/framework-errors.js';

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
  /** Either way, on a stream: one message (docs/streams.md). */
  MESSAGE: 7,
  /** Either way, on a stream: this side is done; from the server with the stream's status. */
  END: 8,
  /** Either way, on a stream: `credit` more bytes of messages the receiver will take. */
  WINDOW: 9,
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
  /** On error responses: how far the call got (WireProgress); 0 or absent: processed. */
  progress?: number | undefined;
  /** On error responses: 1 retryable, 2 not retryable; 0 or absent: the code's default. */
  retryable?: number | undefined;
  /** REQUEST: the call opens a stream (StreamKind: 1 server, 2 client, 3 both); 0 or absent: unary. */
  stream?: number | undefined;
  /** WINDOW: bytes of messages granted to the other side of the stream. */
  credit?: number | undefined;
  /**
   * MESSAGE: the sender had to wait for credit before it could send this message, so the
   * receiver's window held it back (the receiver may grow the window; docs/streams.md).
   */
  blocked?: boolean | undefined;
}

/** RpcError.progress on the wire (header field 13). Absent means processed: never retried unsafely. */
export const WireProgress = { PROCESSED: 0, REFUSED: 1, NOT_SENT: 2 } as const;

export function progressToWire(progress: Progress): number {
  return progress === 'refused' ? WireProgress.REFUSED : progress === 'not_sent' ? WireProgress.NOT_SENT : WireProgress.PROCESSED;
}

/** Numbers this version does not know read as processed, the safe reading. */
export function progressFromWire(n: number | undefined): Progress {
  return n === WireProgress.REFUSED ? 'refused' : n === WireProgress.NOT_SENT ? 'not_sent' : 'processed';
}

/** RpcError.retryable on the wire (field 14): sent only when it differs from the code's default. */
export function retryableToWire(error: RpcError): number {
  return error.retryable === isRetryableCode(error.code) ? 0 : error.retryable ? 1 : 2;
}

export function retryableFromWire(n: number | undefined): boolean | undefined {
  return n === 1 ? true : n === 2 ? false : undefined;
}

export interface FrameHeader extends HeaderFields {
  kind: FrameKind;
  /** Request id, unique among the calls in flight on one connection; 0 for connection frames. A uint32. */
  id: number;
  /**
   * Set by the decoder when the frame is well-formed but breaks a limit of the receiver (its
   * metadata is over the caps, and none of it was kept): the call is answered or failed with
   * this error instead of being handled. Never sent.
   */
  violation?: RpcError | undefined;
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
const T_PROGRESS = 0x68;
const T_RETRYABLE = 0x70;
const T_STREAM = 0x78;
/** Field 16 needs a two-byte tag: (16 << 3) | 0 = 128, the varint 0x80 0x01. */
const T_CREDIT = 0x80;
/** Field 17, two bytes too: (17 << 3) | 0 = 136, the varint 0x88 0x01. */
const T_BLOCKED = 0x88;
const T_ENTRY_KEY = 0x0a;
const T_ENTRY_VALUE = 0x12;

const MAX_UINT32 = 0xffffffff;
const hasOwn = Object.prototype.hasOwnProperty;

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function stringField(s: string | undefined): number {
  if (!s) return 0;
  const n = Buffer.byteLength(s);
  return 1 + varintSize(n) + n;
}

/**
 * The timeout as the wire's uint32: a longer one goes as the longest rather than truncated to a
 * short one, and a set one (a fraction, or already overdue) as 1 ms, never as 0 (no deadline).
 */
function wireTimeout(ms: number): number {
  return ms >= MAX_UINT32 ? MAX_UINT32 : ms >= 1 ? ms >>> 0 : 1;
}

/** Bytes the encoded header will take. Throws an RpcError for an id or metadata the wire cannot carry. */
export function headerSize(id: number, h: HeaderFields, timeoutMs: number): number {
  if (id !== id >>> 0) throw unencodableId(id);
  let n = 2;
  if (id) n += 1 + varintSize(id);
  n += stringField(h.service) + stringField(h.method) + stringField(h.codec);
  if (h.compression) n += 2;
  if (timeoutMs) n += 1 + varintSize(wireTimeout(timeoutMs));
  const md = h.metadata;
  if (md) {
    // Own keys only: `for…in` alone would send keys inherited from the object's prototype.
    for (const key in md) {
      if (!hasOwn.call(md, key)) continue;
      const value = md[key];
      if (typeof value !== 'string') throw invalidMetadata('frame', key, value);
      const entry = entrySize(key, value);
      n += 1 + varintSize(entry) + entry;
    }
  }
  if (h.status) n += 1 + varintSize(h.status);
  n += stringField(h.message) + stringField(h.details) + stringField(h.stack);
  if (h.progress) n += 1 + varintSize(h.progress);
  if (h.retryable) n += 1 + varintSize(h.retryable);
  // One branch for the stream fields: a unary frame has none.
  if (h.stream || h.credit || h.blocked) n += streamFieldsSize(h);
  return n;
}

function streamFieldsSize(h: HeaderFields): number {
  let n = 0;
  if (h.stream) n += 1 + varintSize(h.stream);
  if (h.credit) n += 2 + varintSize(h.credit);
  if (h.blocked) n += 3;
  return n;
}

function entrySize(key: string, value: string): number {
  const k = Buffer.byteLength(key);
  const v = Buffer.byteLength(value);
  return 1 + varintSize(k) + k + 1 + varintSize(v) + v;
}

/** Writes a uint32 (callers check the range: headerSize refuses ids beyond it, wireTimeout clamps). */
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
  if (id !== id >>> 0) throw unencodableId(id);
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
    pos = writeVarint(buf, pos, wireTimeout(timeoutMs));
  }
  const md = h.metadata;
  if (md) {
    for (const key in md) {
      if (!hasOwn.call(md, key)) continue;
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
  if (h.progress) {
    buf[pos++] = T_PROGRESS;
    pos = writeVarint(buf, pos, h.progress);
  }
  if (h.retryable) {
    buf[pos++] = T_RETRYABLE;
    pos = writeVarint(buf, pos, h.retryable);
  }
  if (h.stream || h.credit || h.blocked) pos = writeStreamFields(buf, pos, h);
  return pos;
}

function writeStreamFields(buf: Buffer, pos: number, h: HeaderFields): number {
  if (h.stream) {
    buf[pos++] = T_STREAM;
    pos = writeVarint(buf, pos, h.stream);
  }
  if (h.credit) {
    buf[pos++] = T_CREDIT;
    buf[pos++] = 0x01;
    pos = writeVarint(buf, pos, h.credit);
  }
  if (h.blocked) {
    buf[pos++] = T_BLOCKED;
    buf[pos++] = 0x01;
    buf[pos++] = 1;
  }
  return pos;
}

export function encodeHeader(h: FrameHeader): Uint8Array {
  const timeoutMs = h.timeoutMs ?? 0;
  const buf = Buffer.allocUnsafe(headerSize(h.id, h, timeoutMs));
  writeHeader(buf, 0, h.kind, h.id, h, timeoutMs);
  return buf;
}

function malformed(reason: string): RpcError {
  return protocolError(`the frame header is not a valid protobuf message (${reason})`);
}

/** A cursor over header bytes; every read checks bounds, so a malformed header throws a protocol error. */
class HeaderReader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /**
   * A varint's value. Bits above 2^32 are kept too (approximately above 2^53), so that a value too
   * large for its field is seen as such rather than read as its low bits.
   */
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw malformed('truncated varint');
      const b = this.buf[this.pos++]!;
      if (shift < 28) result |= (b & 0x7f) << shift;
      else result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw malformed('varint longer than 10 bytes');
    }
  }

  /** Reads a length prefix and steps over the bytes; returns where they start (they end at pos). */
  span(): number {
    const n = this.varint();
    const start = this.pos;
    if (start + n > this.end) throw malformed('a string runs past the end of the header');
    this.pos = start + n;
    return start;
  }

  string(): string {
    const start = this.span();
    return this.buf.toString('utf8', start, this.pos);
  }

  text(start: number, end: number): string {
    return this.buf.toString('utf8', start, end);
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
        throw malformed(`invalid wire type ${wireType}`);
    }
    if (this.pos > this.end) throw malformed('a field runs past the end of the header');
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

/**
 * Decodes a header; a malformed one throws a protocol error (RpcError INTERNAL). Metadata over
 * `limits` sets `violation` instead and keeps none of it.
 */
export function decodeHeader(bytes: Uint8Array, start = 0, end = bytes.length, limits: MetadataLimits = DEFAULT_METADATA_LIMITS): FrameHeader {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return readHeader(buf, start, end, { kind: 0 as FrameKind, id: 0 }, limits);
}

/**
 * Reads header fields into `h` (only those present are assigned). Malformed bytes throw a
 * protocol error and nothing but RpcErrors leave here; metadata over `limits` is counted, not
 * kept, and sets `h.violation`.
 */
export function readHeader<H extends FrameHeader>(buf: Buffer, start: number, end: number, h: H, limits: MetadataLimits = DEFAULT_METADATA_LIMITS): H {
  try {
    return readFields(buf, start, end, h, limits);
  } catch (error) {
    throw RpcError.is(error) ? error : malformed((error as Error)?.message ?? String(error));
  }
}

function readFields<H extends FrameHeader>(buf: Buffer, start: number, end: number, h: H, limits: MetadataLimits): H {
  const r = new HeaderReader(buf, start, end);
  // Metadata is measured as it is read, and decoded only while within the caps.
  let entries = 0;
  let bytes = 0;
  let over = false;
  while (r.pos < end) {
    const tag = r.varint();
    switch (tag) {
      case T_KIND: h.kind = r.varint() as FrameKind; break;
      case T_ID: {
        const id = r.varint();
        if (id > MAX_UINT32) throw protocolError(`frame id ${id} is above 4294967295, the largest the wire allows; the peer must keep its ids below 2^32`);
        h.id = id;
        break;
      }
      case T_SERVICE: h.service = r.name(); break;
      case T_METHOD: h.method = r.name(); break;
      case T_CODEC: h.codec = r.name(); break;
      case T_COMPRESSION: h.compression = r.varint() as Compression; break;
      case T_TIMEOUT: {
        const ms = r.varint();
        h.timeoutMs = ms > MAX_UINT32 ? MAX_UINT32 : ms;
        break;
      }
      case T_METADATA: {
        const entryLength = r.varint();
        const entryEnd = r.pos + entryLength;
        if (entryEnd > end) throw malformed('a metadata entry runs past the end of the header');
        entries++;
        if (over) {
          r.pos = entryEnd; // over the caps already: counted, not read
          break;
        }
        let keyStart = 0;
        let keyEnd = 0;
        let valueStart = 0;
        let valueEnd = 0;
        while (r.pos < entryEnd) {
          const t = r.varint();
          if (t === T_ENTRY_KEY) {
            keyStart = r.span();
            keyEnd = r.pos;
          } else if (t === T_ENTRY_VALUE) {
            valueStart = r.span();
            valueEnd = r.pos;
          } else r.skip(t & 7);
        }
        if (r.pos !== entryEnd) throw malformed('a metadata entry has a field that runs past its end');
        bytes += keyEnd - keyStart + valueEnd - valueStart;
        if (entries > limits.maxMetadataEntries || bytes > limits.maxMetadataBytes) {
          over = true;
          h.metadata = undefined;
          break;
        }
        (h.metadata ??= createMetadata())[r.text(keyStart, keyEnd)] = r.text(valueStart, valueEnd);
        break;
      }
      case T_STATUS: h.status = r.varint(); break;
      case T_MESSAGE: h.message = r.string(); break;
      case T_DETAILS: h.details = r.string(); break;
      case T_STACK: h.stack = r.string(); break;
      case T_PROGRESS: h.progress = r.varint(); break;
      case T_RETRYABLE: h.retryable = r.varint(); break;
      case T_STREAM: h.stream = r.varint(); break;
      case T_CREDIT: {
        const credit = r.varint();
        if (credit > MAX_UINT32) throw protocolError(`window credit ${credit} is above 4294967295, the largest the wire allows`);
        h.credit = credit;
        break;
      }
      case T_BLOCKED: h.blocked = r.varint() !== 0; break;
      default: r.skip(tag & 7); // unknown fields from newer peers are skipped
    }
  }
  if (over) {
    const what = h.kind === FrameKind.REQUEST ? 'request' : h.kind === FrameKind.RESPONSE ? 'response' : 'frame';
    h.violation = entries > limits.maxMetadataEntries
      ? metadataTooLarge(what, 'entries', entries, limits.maxMetadataEntries)
      : metadataTooLarge(what, 'bytes', bytes, limits.maxMetadataBytes);
  }
  return h;
}
