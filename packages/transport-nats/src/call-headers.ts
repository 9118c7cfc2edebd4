import { headers as natsHeaders, type MsgHdrs } from 'nats';
import type { Metadata } from '@svc/core';
import { Compression, type RequestMessage, type ResponseMessage } from '@svc/core/transport';

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
function headerJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
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

/** The request a message carries; `id` is the transport's, the deadline made absolute again. */
export function decodeRequest(id: number, service: string, method: string, h: MsgHdrs | undefined, body: Uint8Array, now = Date.now()): RequestMessage {
  const timeout = Number(h?.get(H_TIMEOUT) || 0);
  return {
    id,
    service,
    method,
    codec: h?.get(H_CODEC) || 'json',
    compression: Number(h?.get(H_COMPRESSION) || 0) as Compression,
    deadline: timeout > 0 ? now + timeout : 0,
    metadata: parseMetadata(h?.get(H_METADATA)),
    body,
  };
}

interface WireError {
  status: number;
  message?: string | undefined;
  details?: string | undefined;
  stack?: string | undefined;
}

/**
 * The response's NATS headers; undefined for a plain successful JSON answer, the common case, which
 * then travels as a header-less NATS message (cheaper to write and to parse on both ends).
 */
export function responseHeaders(response: ResponseMessage): MsgHdrs | undefined {
  if (response.status === 0 && plain(response.codec, response.compression, response.metadata)) return undefined;
  const h = natsHeaders();
  setCommon(h, response.codec, response.compression, response.metadata);
  if (response.status !== 0) {
    const error: WireError = { status: response.status, message: response.message, details: response.details, stack: response.stack };
    h.set(H_ERROR, headerJson(error));
    h.set(H_SERVICE_ERROR_CODE, String(response.status));
    h.set(H_SERVICE_ERROR, (response.message ?? '').replace(/[\r\n]+/g, ' ').replace(/[^\x20-\x7e]/g, '?'));
  }
  return h;
}

export function decodeResponse(h: MsgHdrs | undefined, body: Uint8Array): ResponseMessage {
  const raw = h?.get(H_ERROR);
  const error = raw ? (JSON.parse(raw) as WireError) : undefined;
  return {
    status: error?.status ?? 0,
    message: error?.message,
    details: error?.details,
    stack: error?.stack,
    metadata: parseMetadata(h?.get(H_METADATA)),
    codec: h?.get(H_CODEC) || 'json',
    compression: Number(h?.get(H_COMPRESSION) || 0) as Compression,
    body,
  };
}

function parseMetadata(raw: string | undefined): Metadata | undefined {
  if (!raw) return undefined;
  const parsed = JSON.parse(raw) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  return parsed as Metadata;
}
