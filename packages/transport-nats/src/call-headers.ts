import { headers as natsHeaders, type MsgHdrs } from 'nats';
import type { Metadata } from '@svc/core';
import { checkMetadata, Compression, copyMetadata, deadlineFrom, DEFAULT_MAX_METADATA_BYTES, DEFAULT_MAX_METADATA_ENTRIES, type MetadataLimits, type RequestMessage, type ResponseMessage } from '@svc/core/transport';
import { metadataHeaderTooLong, undecodableCallHeaders } from './nats-errors.js';

/** Core's caps, as core's own transports apply them unless told otherwise. */
export const DEFAULT_METADATA_LIMITS: MetadataLimits = Object.freeze({ maxMetadataEntries: DEFAULT_MAX_METADATA_ENTRIES, maxMetadataBytes: DEFAULT_MAX_METADATA_BYTES });

/**
 * Plain NATS requests, as the NATS CLI and other NATS clients send them: the body is the payload
 * and the @svc call header travels as NATS headers. A request without headers is a JSON call with
 * no deadline, so `nats req svc.rpc.Arith.mul '{"a":6,"b":7}'` works from the command line.
 * (@svc clients send framed calls instead: see FrameBatch.) Message-level errors to a batch of
 * framed calls use the same response headers.
 */
export const H_CODEC = 'Svc-Codec';
export const H_COMPRESSION = 'Svc-Compression';
export const H_TIMEOUT = 'Svc-Timeout';
export const H_METADATA = 'Svc-Metadata';
export const H_ERROR = 'Svc-Error';
/** The NATS micro services protocol's error headers, set too so that NATS tooling sees errors. */
export const H_SERVICE_ERROR = 'Nats-Service-Error';
export const H_SERVICE_ERROR_CODE = 'Nats-Service-Error-Code';

/** JSON with every non-ASCII character escaped: a NATS header value is one line of text. */
export function headerJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const hasOwn = Object.prototype.hasOwnProperty;

/** The key of the first (own) metadata value that is not a string, which the wire cannot carry, if any. */
export function nonStringKey(metadata: Metadata): string | undefined {
  for (const key in metadata) if (typeof metadata[key] !== 'string' && hasOwn.call(metadata, key)) return key;
  return undefined;
}

function setCommon(h: MsgHdrs, codec: string, compression: Compression, metadata: Metadata | undefined): void {
  if (codec !== 'json') h.set(H_CODEC, codec);
  if (compression !== Compression.NONE) h.set(H_COMPRESSION, String(compression));
  if (metadata !== undefined) h.set(H_METADATA, headerJson(metadata));
}

/** True when a call header carries nothing beyond the defaults (JSON, uncompressed, no metadata). */
function plain(codec: string, compression: Compression, metadata: Metadata | undefined): boolean {
  return codec === 'json' && compression === Compression.NONE && metadata === undefined;
}

const DIGITS = /^\d{1,15}$/;
const MILLISECONDS = /^\d{1,15}(\.\d{1,6})?$/;

/**
 * The request a message carries; `id` is the transport's, the deadline made absolute again.
 * Throws an RpcError (INVALID_ARGUMENT, or RESOURCE_EXHAUSTED for metadata over the limits) for
 * headers that do not parse.
 */
export function decodeRequest(id: number, service: string, method: string, h: MsgHdrs | undefined, body: Uint8Array, limits: MetadataLimits = DEFAULT_METADATA_LIMITS, now = Date.now()): RequestMessage {
  // `peer` is set by the listener; declared here so that setting it does not change the object's shape.
  if (h === undefined) return { id, service, method, codec: 'json', compression: Compression.NONE, deadline: 0, metadata: undefined, body, peer: undefined };
  const timeout = h.get(H_TIMEOUT);
  if (timeout !== '' && !MILLISECONDS.test(timeout)) throw undecodableCallHeaders(`${H_TIMEOUT} '${timeout.slice(0, 40)}' is not a number of milliseconds`);
  const compression = h.get(H_COMPRESSION);
  if (compression !== '' && !DIGITS.test(compression)) throw undecodableCallHeaders(`${H_COMPRESSION} '${compression.slice(0, 40)}' is not a number`);
  const ms = Number(timeout);
  return {
    id,
    service,
    method,
    codec: h.get(H_CODEC) || 'json',
    compression: Number(compression) as Compression,
    deadline: deadlineFrom(ms, now),
    metadata: parseMetadata(h.get(H_METADATA), 'request', limits),
    body,
    peer: undefined,
  };
}

/**
 * The Svc-Error header's JSON. `progress` and `retryable` are the numbers of header fields 13 and
 * 14 (progress: 1 refused, 2 not_sent; retryable: 1 yes, 2 no), present only when not 0: absent
 * means processed and the code's default.
 */
interface WireError {
  status: number;
  message?: string | undefined;
  details?: string | undefined;
  stack?: string | undefined;
  progress?: number | undefined;
  retryable?: number | undefined;
}

/**
 * The response's NATS headers; undefined for a plain successful JSON answer, the common case, which
 * then travels as a header-less NATS message (cheaper to write and to parse on both ends). The
 * caller checks the metadata first (nonStringKey): JSON would carry a number, the wire may not.
 */
export function responseHeaders(response: ResponseMessage): MsgHdrs | undefined {
  if (response.status === 0 && plain(response.codec, response.compression, response.metadata)) return undefined;
  const h = natsHeaders();
  setCommon(h, response.codec, response.compression, response.metadata);
  if (response.status !== 0) {
    const error: WireError = { status: response.status, message: response.message, details: response.details, stack: response.stack };
    if (response.progress) error.progress = response.progress;
    if (response.retryable) error.retryable = response.retryable;
    h.set(H_ERROR, headerJson(error));
    h.set(H_SERVICE_ERROR_CODE, String(response.status));
    h.set(H_SERVICE_ERROR, (response.message ?? '').replace(/[\r\n]+/g, ' ').replace(/[^\x20-\x7e]/g, '?'));
  }
  return h;
}

/** A response from NATS headers; throws when they do not parse or hold values of the wrong type. */
export function decodeResponse(h: MsgHdrs | undefined, body: Uint8Array, limits: MetadataLimits = DEFAULT_METADATA_LIMITS): ResponseMessage {
  const raw = h?.get(H_ERROR);
  const error = raw ? checkWireError(JSON.parse(raw) as unknown) : undefined;
  return {
    status: error?.status ?? 0,
    message: error?.message,
    details: error?.details,
    stack: error?.stack,
    progress: error?.progress,
    retryable: error?.retryable,
    metadata: parseMetadata(h?.get(H_METADATA), 'response', limits),
    codec: h?.get(H_CODEC) || 'json',
    compression: Number(h?.get(H_COMPRESSION) || 0) as Compression,
    body,
  };
}

function checkWireError(value: unknown): WireError {
  const e = value as Partial<Record<keyof WireError, unknown>> | null;
  if (typeof e !== 'object' || e === null || !Number.isInteger(e.status) || (e.status as number) < 0) throw new TypeError(`${H_ERROR} is not an error with a status number`);
  for (const field of ['message', 'details', 'stack'] as const) {
    if (e[field] !== undefined && typeof e[field] !== 'string') throw new TypeError(`${H_ERROR} has a ${field} that is not a string`);
  }
  // Numbers this version does not know are read as the safe default (core's progressFromWire).
  for (const field of ['progress', 'retryable'] as const) {
    if (e[field] !== undefined && !(Number.isInteger(e[field]) && (e[field] as number) >= 0)) throw new TypeError(`${H_ERROR} has a ${field} that is not a whole number`);
  }
  return e as WireError;
}

/**
 * Metadata from the Svc-Metadata header (one-line JSON), checked as core checks metadata (core's
 * checkMetadata: values are well-formed strings, at most `maxMetadataEntries` entries and
 * `maxMetadataBytes` bytes of keys and values), and copied into a map without Object.prototype:
 * own keys only, `__proto__` an ordinary key, nothing inherited. Throws an RpcError:
 * INVALID_ARGUMENT for a request's (INTERNAL for a response's), RESOURCE_EXHAUSTED over a cap.
 */
export function parseMetadata(raw: string | undefined, what: 'request' | 'response', limits: MetadataLimits = DEFAULT_METADATA_LIMITS): Metadata | undefined {
  if (!raw) return undefined;
  // An entry takes at least 6 characters (`"":"",`) besides its content, and a byte of content at
  // most 6 (\uXXXX, or one JSON whitespace): a longer header is over the caps whatever it holds,
  // and is not parsed at all.
  if (raw.length > 6 * limits.maxMetadataBytes + 6 * limits.maxMetadataEntries + 2) throw metadataHeaderTooLong(raw.length, limits.maxMetadataBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw undecodableCallHeaders(`${H_METADATA} is not JSON: ${(error as Error).message}`);
  }
  checkMetadata(parsed, what, limits);
  return copyMetadata(parsed as Metadata);
}
