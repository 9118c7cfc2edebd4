import { randomFillSync } from 'node:crypto';

/** Ids for this many traceparents are drawn and hex-encoded at once, not one call at a time. */
const BATCH = 256;
const ID_HEX = 48; // a 16-byte trace id and an 8-byte span id, in hex
const pool = Buffer.alloc((BATCH * ID_HEX) / 2);
let hex = '';
let next = BATCH;

/**
 * The ids of a W3C traceparent that says "not sampled" (version 00, flags 00, as
 * unsampledTraceparent writes), or undefined for anything else: another flag or version, or not
 * exactly that form (lower-case hex, ids not all zero), which the propagator then reads as it
 * would. What the W3C propagator makes of such a header, without its regular expression.
 */
export function unsampledIds(traceparent: unknown): { traceId: string; spanId: string } | undefined {
  if (typeof traceparent !== 'string' || traceparent.length !== 55) return undefined;
  if (traceparent.charCodeAt(0) !== 48 || traceparent.charCodeAt(1) !== 48 || traceparent.charCodeAt(2) !== 45) return undefined; // "00-"
  if (traceparent.charCodeAt(35) !== 45 || traceparent.charCodeAt(52) !== 45 || traceparent.charCodeAt(53) !== 48 || traceparent.charCodeAt(54) !== 48) return undefined; // "-", "-00"
  if (!lowerHex(traceparent, 3, 35) || !lowerHex(traceparent, 36, 52)) return undefined;
  const traceId = traceparent.slice(3, 35);
  const spanId = traceparent.slice(36, 52);
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId };
}

const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

function lowerHex(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * A W3C traceparent for a new trace that is not sampled (flags 00): random ids, as the SDK's
 * would be, so logs and downstream services can still tell traces apart. Slices of one hex
 * string per batch: no native call per call. (An all-zero id is invalid; from 128 random bits it
 * does not happen, and the SDK's generator does not check either.)
 */
export function unsampledTraceparent(): string {
  if (next === BATCH) {
    randomFillSync(pool);
    hex = pool.toString('hex');
    next = 0;
  }
  const at = next++ * ID_HEX;
  return `00-${hex.slice(at, at + 32)}-${hex.slice(at + 32, at + ID_HEX)}-00`;
}
