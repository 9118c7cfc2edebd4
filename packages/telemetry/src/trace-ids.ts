import { randomFillSync } from 'node:crypto';

/** Ids for this many traceparents are drawn and hex-encoded at once, not one call at a time. */
const BATCH = 256;
const ID_HEX = 48; // a 16-byte trace id and an 8-byte span id, in hex
const pool = Buffer.alloc((BATCH * ID_HEX) / 2);
let hex = '';
let next = BATCH;

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
