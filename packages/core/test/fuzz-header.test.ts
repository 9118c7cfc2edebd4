import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RpcError } from '../src/errors/rpc-error.js';
import { Compression, decodeHeader, encodeHeader, FrameKind, headerSize, type FrameHeader } from '../src/wire/header.js';
import type { Metadata } from '../src/metadata.js';

// The frame header codec under random input (issue 12, fuzzing). `pnpm fuzz` runs it with
// SVC_FUZZ_RUNS=1000000; `pnpm test` with the small default.
const RUNS = Number(process.env.SVC_FUZZ_RUNS ?? 300);

const text = fc.string({ unit: 'binary', maxLength: 24 }); // any code point, well-formed
const key = fc.oneof(text, fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', ''));
const metadata = fc.dictionary(key, text, { maxKeys: 12 });

const header: fc.Arbitrary<FrameHeader> = fc.record(
  {
    kind: fc.constantFrom(...Object.values(FrameKind)),
    id: fc.integer({ min: 0, max: 0xffffffff }),
    service: text,
    method: text,
    codec: text,
    compression: fc.constantFrom(Compression.NONE, Compression.GZIP, Compression.DEFLATE),
    timeoutMs: fc.integer({ min: 0, max: 0xffffffff }),
    metadata,
    status: fc.integer({ min: 0, max: 16 }),
    message: text,
    details: text,
    stack: text,
  },
  { requiredKeys: ['kind', 'id'] },
);

/** What the decoder gives back: empty and zero fields are not sent. */
function normalized(h: FrameHeader): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: h.kind, id: h.id };
  for (const [k, v] of Object.entries(h)) {
    if (k === 'kind' || k === 'id' || v === '' || v === 0 || v === undefined) continue;
    if (k === 'metadata') {
      if (Object.keys(v as object).length > 0) out.metadata = Object.entries(v as Metadata).sort();
      continue;
    }
    out[k] = v;
  }
  return out;
}

function comparable(h: FrameHeader): Record<string, unknown> {
  return normalized({ ...h, metadata: h.metadata });
}

/** Only protocol errors (RpcError INTERNAL) may leave the decoder. */
function decodeOrProtocolError(bytes: Uint8Array, limits?: { maxMetadataEntries: number; maxMetadataBytes: number }): FrameHeader | RpcError {
  try {
    return decodeHeader(bytes, 0, bytes.length, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe('INTERNAL');
    expect((error as RpcError).message).toMatch(/^protocol error: /);
    return error as RpcError;
  }
}

describe('fuzz: frame header', () => {
  it('round-trips arbitrary fields, metadata keys like __proto__ and non-ASCII included', () => {
    fc.assert(
      fc.property(header, (h) => {
        const bytes = encodeHeader(h);
        expect(bytes.length).toBe(headerSize(h.id, h, h.timeoutMs ?? 0));
        const decoded = decodeHeader(bytes);
        expect(decoded.violation).toBeUndefined();
        expect(comparable(decoded)).toEqual(normalized(h));
        const md = decoded.metadata;
        if (md) for (const inherited of ['toString', 'hasOwnProperty', 'constructor']) expect(inherited in md).toBe(Object.hasOwn(md, inherited));
      }),
      { numRuns: RUNS },
    );
  });

  it('lets nothing but a protocol error out of random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        decodeOrProtocolError(bytes);
      }),
      { numRuns: RUNS },
    );
  });

  it('lets nothing but a protocol error out of truncated and bit-flipped headers', () => {
    const mutation = fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }), cut: fc.boolean() });
    fc.assert(
      fc.property(header, fc.array(mutation, { minLength: 1, maxLength: 4 }), (h, mutations) => {
        let bytes = Buffer.from(encodeHeader(h));
        for (const m of mutations) {
          if (bytes.length === 0) break;
          const at = m.at % bytes.length;
          if (m.cut) bytes = bytes.subarray(0, at);
          else bytes[at]! ^= 1 << m.bit;
        }
        const decoded = decodeOrProtocolError(bytes);
        if (!(decoded instanceof RpcError)) {
          expect(decoded.id).toBeLessThanOrEqual(0xffffffff);
          expect(decoded.timeoutMs ?? 0).toBeLessThanOrEqual(0xffffffff);
          if (decoded.metadata) expect(Object.keys(decoded.metadata).length).toBeLessThanOrEqual(64);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps metadata exactly when it is within the caps, and none of it otherwise', () => {
    const caps = fc.record({ maxMetadataEntries: fc.integer({ min: 0, max: 12 }), maxMetadataBytes: fc.integer({ min: 0, max: 200 }) });
    fc.assert(
      fc.property(metadata, caps, (md, limits) => {
        const entries = Object.keys(md).length;
        const bytes = Object.entries(md).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
        const decoded = decodeHeader(encodeHeader({ kind: FrameKind.REQUEST, id: 1, metadata: md }), 0, undefined, limits);
        if (entries > limits.maxMetadataEntries || bytes > limits.maxMetadataBytes) {
          expect(decoded.violation?.code).toBe('RESOURCE_EXHAUSTED');
          expect(decoded.metadata).toBeUndefined();
        } else {
          expect(decoded.violation).toBeUndefined();
          expect(Object.entries(decoded.metadata ?? {}).sort()).toEqual(Object.entries(md).sort());
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('never writes an id truncated: it round-trips or the encoder refuses it', () => {
    const id = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.double(), fc.integer({ min: -(2 ** 53), max: 2 ** 53 }), fc.constantFrom(2 ** 32, -1, 0.5, NaN, Infinity));
    fc.assert(
      fc.property(id, (n) => {
        let bytes: Uint8Array;
        try {
          bytes = encodeHeader({ kind: FrameKind.REQUEST, id: n });
        } catch (error) {
          expect(error).toBeInstanceOf(RpcError);
          expect((error as RpcError).code).toBe('INTERNAL');
          expect(Number.isInteger(n) && n >= 0 && n <= 0xffffffff).toBe(false);
          return;
        }
        expect(decodeHeader(bytes).id === n).toBe(true); // -0 is 0
      }),
      { numRuns: RUNS },
    );
  });
});
