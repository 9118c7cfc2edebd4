import protobuf from 'protobufjs/minimal.js';
import type { Metadata } from '../metadata.js';

/**
 * The frame header: a small protobuf message, so that any language with protobuf can speak the
 * wire (docs/wire-format.md has its .proto). Field numbers are fixed forever.
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

export interface FrameHeader {
  kind: FrameKind;
  /** Request id, unique among the calls in flight on one connection; 0 for connection frames. */
  id: number;
  service?: string;
  method?: string;
  /** Codec name of the body ('json', 'protobuf', ...). */
  codec?: string;
  compression?: Compression;
  /** Remaining time in milliseconds when the frame was written; 0 or absent: no deadline. */
  timeoutMs?: number;
  metadata?: Metadata;
  /** Status code number on responses and goaway; 0 is OK. */
  status?: number;
  message?: string;
  /** JSON text of RpcError.details. */
  details?: string;
  /** The server's stack trace, only when the server opts in. */
  stack?: string;
}

const { Writer, Reader } = protobuf;

const T_KIND = (1 << 3) | 0;
const T_ID = (2 << 3) | 0;
const T_SERVICE = (3 << 3) | 2;
const T_METHOD = (4 << 3) | 2;
const T_CODEC = (5 << 3) | 2;
const T_COMPRESSION = (6 << 3) | 0;
const T_TIMEOUT = (7 << 3) | 0;
const T_METADATA = (8 << 3) | 2;
const T_STATUS = (9 << 3) | 0;
const T_MESSAGE = (10 << 3) | 2;
const T_DETAILS = (11 << 3) | 2;
const T_STACK = (12 << 3) | 2;

export function encodeHeader(h: FrameHeader): Uint8Array {
  const w = Writer.create();
  w.uint32(T_KIND).uint32(h.kind);
  if (h.id) w.uint32(T_ID).uint32(h.id);
  if (h.service) w.uint32(T_SERVICE).string(h.service);
  if (h.method) w.uint32(T_METHOD).string(h.method);
  if (h.codec) w.uint32(T_CODEC).string(h.codec);
  if (h.compression) w.uint32(T_COMPRESSION).uint32(h.compression);
  if (h.timeoutMs) w.uint32(T_TIMEOUT).uint32(h.timeoutMs);
  if (h.metadata) {
    const md = h.metadata;
    for (const key in md) {
      w.uint32(T_METADATA).fork().uint32(10).string(key).uint32(18).string(md[key]!).ldelim();
    }
  }
  if (h.status) w.uint32(T_STATUS).uint32(h.status);
  if (h.message) w.uint32(T_MESSAGE).string(h.message);
  if (h.details) w.uint32(T_DETAILS).string(h.details);
  if (h.stack) w.uint32(T_STACK).string(h.stack);
  return w.finish();
}

/** Decodes a header; throws on malformed protobuf (the caller turns that into a protocol error). */
export function decodeHeader(bytes: Uint8Array): FrameHeader {
  const r = Reader.create(bytes);
  const h: FrameHeader = { kind: 0 as FrameKind, id: 0 };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag) {
      case T_KIND: h.kind = r.uint32() as FrameKind; break;
      case T_ID: h.id = r.uint32(); break;
      case T_SERVICE: h.service = r.string(); break;
      case T_METHOD: h.method = r.string(); break;
      case T_CODEC: h.codec = r.string(); break;
      case T_COMPRESSION: h.compression = r.uint32() as Compression; break;
      case T_TIMEOUT: h.timeoutMs = r.uint32(); break;
      case T_METADATA: {
        const end = r.uint32() + r.pos;
        let key = '';
        let value = '';
        while (r.pos < end) {
          const t = r.uint32();
          if (t === 10) key = r.string();
          else if (t === 18) value = r.string();
          else r.skipType(t & 7);
        }
        (h.metadata ??= {})[key] = value;
        break;
      }
      case T_STATUS: h.status = r.uint32(); break;
      case T_MESSAGE: h.message = r.string(); break;
      case T_DETAILS: h.details = r.string(); break;
      case T_STACK: h.stack = r.string(); break;
      default: r.skipType(tag & 7); // unknown fields from newer peers are skipped
    }
  }
  return h;
}
