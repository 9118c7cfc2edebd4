import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RpcError } from '../src/errors/rpc-error.js';
import { encodeFrame } from '../src/wire/frame.js';
import { FrameDecoder, type Frame, type FrameDecoderOptions } from '../src/wire/frame-decoder.js';
import { Compression, FrameKind, type FrameHeader } from '../src/wire/header.js';

// The incremental frame decoder under random, split, merged, truncated, bit-flipped and
// oversized input (issue 12, fuzzing). `pnpm fuzz` runs it with SVC_FUZZ_RUNS=1000000.
const RUNS = Number(process.env.SVC_FUZZ_RUNS ?? 200);

// Small limits, so that random lengths and metadata often cross them.
const OPTIONS: FrameDecoderOptions = { maxFrameSize: 2_048, maxMetadataEntries: 6, maxMetadataBytes: 120 };
/** A partial frame is short of its last byte at most: 7 bytes before its length field, then the length. */
const MAX_PENDING = OPTIONS.maxFrameSize! + 6;

const text = fc.string({ unit: 'binary', maxLength: 12 });
const header: fc.Arbitrary<FrameHeader> = fc.record(
  {
    kind: fc.constantFrom(...Object.values(FrameKind)),
    id: fc.integer({ min: 0, max: 0xffffffff }),
    service: text,
    method: text,
    codec: fc.constantFrom('json', 'protobuf'),
    compression: fc.constantFrom(Compression.NONE, Compression.GZIP),
    timeoutMs: fc.integer({ min: 0, max: 0xffffffff }),
    metadata: fc.dictionary(fc.oneof(text, fc.constantFrom('__proto__', 'constructor')), text, { maxKeys: 8 }),
    status: fc.integer({ min: 0, max: 16 }),
    message: text,
  },
  { requiredKeys: ['kind', 'id'] },
);
const frame = fc.tuple(header, fc.uint8Array({ maxLength: 300 })).map(([h, body]) => encodeFrame(h, body));
const stream = fc.array(frame, { minLength: 1, maxLength: 6 }).map((frames) => Buffer.concat(frames));
/** Cut points, as fractions of the stream's length: any split, from none to byte by byte. */
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });

type Mutation = { op: 'flip' | 'set' | 'truncate' | 'insert' | 'length' | 'duplicate'; at: number; value: number };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('flip', 'set', 'truncate', 'insert', 'length', 'duplicate'),
  at: fc.nat(),
  value: fc.nat(),
});

function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const { op, at, value } of mutations) {
    if (out.length === 0) return out;
    const i = at % out.length;
    if (op === 'flip') out[i]! ^= 1 << (value % 8);
    else if (op === 'set') out[i] = value % 256;
    else if (op === 'truncate') out = out.subarray(0, i);
    else if (op === 'insert') out = Buffer.concat([out.subarray(0, i), Buffer.from([value % 256]), out.subarray(i)]);
    else if (op === 'duplicate') out = Buffer.concat([out, out.subarray(i, i + 1 + (value % 64))]);
    else if (i + 4 <= out.length) out.writeUInt32BE(value % 2 === 0 ? value % 0x1_0000_0000 : value % 4_096, i); // a length, maybe huge
  }
  return out;
}

function split(bytes: Buffer, at: readonly number[]): Buffer[] {
  const points = [...new Set(at.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

interface Outcome {
  frames: unknown[];
  failed: boolean;
  pendingBytes: number;
}

/** Feeds the chunks, checking on the way what must hold whatever the bytes. */
function decode(chunks: readonly Buffer[]): Outcome {
  const decoder = new FrameDecoder(OPTIONS);
  const frames: unknown[] = [];
  let failed = false;
  for (const chunk of chunks) {
    try {
      decoder.push(chunk, (f) => {
        expect(failed).toBe(false); // nothing is delivered after a violation
        frames.push(snapshot(f));
      });
    } catch (error) {
      expect(error).toBeInstanceOf(RpcError); // nothing but a protocol error escapes
      expect((error as RpcError).code).toBe('INTERNAL');
      expect(failed).toBe(false);
      failed = true;
      expect(decoder.isClosed).toBe(true);
      expect(decoder.pendingBytes).toBe(0);
    }
    if (failed) expect(decoder.pendingSince).toBe(0);
    expect(decoder.pendingBytes).toBeLessThanOrEqual(MAX_PENDING);
    expect(decoder.pendingBytes === 0).toBe(decoder.pendingSince === 0);
  }
  return { frames, failed, pendingBytes: decoder.pendingBytes };
}

/** A frame as plain data: its body is a view that the next chunk may not outlive. */
function snapshot(f: Frame): unknown {
  return {
    kind: f.kind,
    id: f.id,
    service: f.service,
    method: f.method,
    codec: f.codec,
    compression: f.compression,
    timeoutMs: f.timeoutMs,
    metadata: f.metadata === undefined ? undefined : Object.entries(f.metadata),
    status: f.status,
    message: f.message,
    body: Buffer.from(f.body).toString('hex'),
    violation: f.violation?.code,
  };
}

describe('fuzz: frame decoder', () => {
  it('decodes valid frames split at any points exactly as unsplit', () => {
    fc.assert(
      fc.property(stream, cuts, (bytes, at) => {
        const whole = decode([bytes]);
        const pieces = decode(split(bytes, at));
        expect(whole.failed).toBe(false);
        expect(pieces).toEqual(whole);
        expect(whole.pendingBytes).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('treats mutated streams the same however they are split, and only ever throws protocol errors', () => {
    const seen = { failed: 0, delivered: 0, refusedMetadata: 0 };
    fc.assert(
      fc.property(stream, fc.array(mutation, { minLength: 1, maxLength: 5 }), cuts, (bytes, mutations, at) => {
        const mutated = mutate(bytes, mutations);
        const whole = decode([mutated]);
        const pieces = decode(split(mutated, at));
        expect(pieces.frames).toEqual(whole.frames); // the same frames, and none after a violation
        expect(pieces.failed).toBe(whole.failed);
        if (whole.failed) seen.failed++;
        if (whole.frames.length > 0) seen.delivered++;
        if (whole.frames.some((f) => (f as { violation?: string }).violation)) seen.refusedMetadata++;
      }),
      { numRuns: RUNS },
    );
    // The mutations reach every outcome: protocol errors, frames, and frames refused for their metadata.
    if (RUNS >= 100) expect(Math.min(seen.failed, seen.delivered, seen.refusedMetadata)).toBeGreaterThan(0);
  });

  it('survives random bytes byte by byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (random, framed) => {
        // Half the time behind a valid prefix, so that the header and length paths are reached too.
        const bytes = framed ? Buffer.concat([Buffer.from([0x53, 0x56, 1]), Buffer.from(random)]) : Buffer.from(random);
        decode(Array.from(bytes, (b) => Buffer.from([b])));
      }),
      { numRuns: RUNS },
    );
  });
});
