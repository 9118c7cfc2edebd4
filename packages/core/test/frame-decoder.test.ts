import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../src/wire/frame.js';
import { FrameDecoder, type Frame } from '../src/wire/frame-decoder.js';
import { FrameKind, Compression, decodeHeader, encodeHeader, type FrameHeader } from '../src/wire/header.js';

function frames(n: number): { headers: FrameHeader[]; bodies: Buffer[]; bytes: Buffer } {
  const headers: FrameHeader[] = [];
  const bodies: Buffer[] = [];
  for (let i = 1; i <= n; i++) {
    headers.push({ kind: FrameKind.REQUEST, id: i, service: 'Arith', method: 'mul', codec: 'json', timeoutMs: i * 10, metadata: { k: `v${i}`, é: 'ü' } });
    bodies.push(Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(i * 37) })));
  }
  return { headers, bodies, bytes: Buffer.concat(headers.map((h, i) => encodeFrame(h, bodies[i]))) };
}

function decodeAll(chunks: Buffer[]): Frame[] {
  const decoder = new FrameDecoder();
  const out: Frame[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk, (f) => {
      f.body = Buffer.from(f.body);
      out.push(f);
    });
  }
  expect(decoder.pendingBytes).toBe(0);
  return out;
}

describe('FrameDecoder', () => {
  const { headers, bodies, bytes } = frames(40);

  it('decodes frames merged in one chunk', () => {
    const out = decodeAll([bytes]);
    out.forEach((f, i) => expect(f).toMatchObject(headers[i]!));
    expect(out.map((f) => Buffer.from(f.body))).toEqual(bodies);
  });

  it('decodes the same frames fed one byte at a time', () => {
    const chunks = Array.from(bytes, (b) => Buffer.from([b]));
    decodeAll(chunks).forEach((f, i) => expect(f).toMatchObject(headers[i]!));
  });

  it('decodes the same frames split at every chunk size from 2 to 97', () => {
    for (let size = 2; size < 98; size++) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      const out = decodeAll(chunks);
      expect(out.length).toBe(40);
      expect(out[39]!).toMatchObject(headers[39]!);
      expect(Buffer.from(out[17]!.body)).toEqual(bodies[17]);
    }
  });

  it('assembles a 64 KiB message split anywhere in one buffer of its size, never grown', () => {
    const body = Buffer.alloc(64 * 1024, 7);
    const frame = encodeFrame({ kind: FrameKind.MESSAGE, id: 3 }, body);
    for (const cut of [1, 11, 12, 100, 32 * 1024, 64 * 1024]) {
      const decoder = new FrameDecoder();
      const out: Frame[] = [];
      decoder.push(frame.subarray(0, cut), (f) => out.push(f));
      // Once the prefix is in, the buffer is the frame's: its bytes are copied once, not again on growing.
      const capacity = decoder.pendingCapacity;
      if (cut >= 11) expect(capacity).toBe(frame.length);
      decoder.push(frame.subarray(cut), (f) => out.push(f));
      expect(out).toHaveLength(1);
      expect(Buffer.from(out[0]!.body).equals(body)).toBe(true);
      if (cut >= 11) expect(out[0]!.body.buffer.byteLength).toBe(frame.length);
    }
  });

  it('holds at most max(68 KiB, twice what arrived) of a larger frame, whatever its prefix claims', () => {
    const body = Buffer.alloc(1024 * 1024, 9);
    const frame = encodeFrame({ kind: FrameKind.MESSAGE, id: 5 }, body);
    const decoder = new FrameDecoder({ maxFrameSize: 2 * 1024 * 1024 });
    const out: Frame[] = [];
    decoder.push(frame.subarray(0, 11), (f) => out.push(f));
    expect(decoder.pendingCapacity).toBe(68 * 1024);
    let sent = 11;
    for (const size of [50_000, 150_000, 300_000, 64 * 1024]) {
      decoder.push(frame.subarray(sent, sent + size), (f) => out.push(f));
      sent += size;
      expect(decoder.pendingBytes).toBe(sent);
      expect(decoder.pendingCapacity).toBeLessThanOrEqual(Math.max(68 * 1024, 2 * sent));
    }
    decoder.push(frame.subarray(sent), (f) => out.push(f));
    expect(out).toHaveLength(1);
    expect(Buffer.from(out[0]!.body).equals(body)).toBe(true);
    expect(decoder.pendingCapacity).toBe(0);
  });

  it('rejects wrong magic on the first byte, before more arrives', () => {
    expect(() => new FrameDecoder().push(Buffer.from([0x47]), () => {})).toThrow(/wrong magic bytes 0x47/);
  });

  it('rejects a frame above the maximum from its length alone', () => {
    const frame = encodeFrame({ kind: FrameKind.PING, id: 0 }, Buffer.alloc(2_000));
    const decoder = new FrameDecoder({ maxFrameSize: 1_024 });
    expect(() => decoder.push(frame.subarray(0, 11), () => {})).toThrow(/exceeds the maximum frame size of 1024/);
  });

  it('refuses to encode a frame above the maximum', () => {
    expect(() => encodeFrame({ kind: FrameKind.REQUEST, id: 1 }, Buffer.alloc(2_000), 1_024)).toThrow(/maximum frame size/);
  });
});

describe('frame header', () => {
  it('round-trips every field', () => {
    const header: FrameHeader = {
      kind: FrameKind.RESPONSE,
      id: 0xfffffffe,
      service: 'S',
      method: 'm',
      codec: 'protobuf',
      compression: Compression.GZIP,
      timeoutMs: 123_456,
      metadata: { a: '1', 'b-c': 'ünïcödé', empty: '' },
      status: 16,
      message: 'no token',
      details: '{"x":[1,2]}',
      stack: 'Error: x\n    at y',
    };
    expect(decodeHeader(encodeHeader(header))).toEqual(header);
  });

  it('skips fields it does not know (a newer peer)', () => {
    const known = encodeHeader({ kind: FrameKind.PING, id: 3 });
    const unknownField = Buffer.from([(99 << 3) | 2, 3, 1, 2, 3].flatMap((b) => (b > 127 ? [(b & 0x7f) | 0x80, b >> 7] : [b])));
    expect(decodeHeader(Buffer.concat([known, unknownField]))).toEqual({ kind: FrameKind.PING, id: 3 });
  });
});
