import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { RpcError } from '../src/errors/rpc-error.js';
import { encodeFrame, PREFIX_BYTES } from '../src/wire/frame.js';
import { FrameDecoder, type Frame } from '../src/wire/frame-decoder.js';
import { decodeHeader, encodeHeader, FrameKind, headerSize } from '../src/wire/header.js';

// Ids, timeouts and partial frames at the edges of what the wire allows (issue 12, #6, #12).

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
/** Twice: a collection first finishes sweeping the one before, so the heap figures are settled. */
function gc(): void {
  collect();
  collect();
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** A REQUEST frame whose id is written as given, which the encoder would refuse. */
function requestWithId(id: number): Buffer {
  const header = Buffer.from([0x08, FrameKind.REQUEST, 0x10, ...varint(id), 0x1a, 1, 0x53, 0x22, 1, 0x6d]);
  const prefix = Buffer.alloc(PREFIX_BYTES);
  prefix.write('SV', 0, 'latin1');
  prefix[2] = 1;
  prefix.writeUInt32BE(4 + header.length, 3);
  prefix.writeUInt32BE(header.length, 7);
  return Buffer.concat([prefix, header]);
}

function push(decoder: FrameDecoder, bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  decoder.push(bytes, (f) => frames.push(f));
  return frames;
}

describe('request ids', () => {
  it('decodes the largest uint32 id as it is', () => {
    expect(push(new FrameDecoder(), requestWithId(0xffffffff))[0]!.id).toBe(0xffffffff);
  });

  it('refuses an id above 2^32 - 1 with a protocol error naming it, and delivers nothing after it', () => {
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    let error: unknown;
    try {
      decoder.push(Buffer.concat([requestWithId(2 ** 32 + 7), requestWithId(1)]), (f) => frames.push(f));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('4294967303') });
    expect(frames).toHaveLength(0);
    expect(decoder.isClosed).toBe(true);
    expect(() => decodeHeader(requestWithId(2 ** 40).subarray(PREFIX_BYTES))).toThrow(/1099511627776/);
  });

  it('is never written truncated: the encoder refuses what is not a uint32', () => {
    for (const id of [2 ** 32, 2 ** 32 + 1, -1, 1.5, Number.MAX_SAFE_INTEGER]) {
      let error: unknown;
      try {
        encodeFrame({ kind: FrameKind.REQUEST, id });
      } catch (e) {
        error = e;
      }
      expect(error, String(id)).toBeInstanceOf(RpcError);
      expect(error).toMatchObject({ code: 'INTERNAL', message: expect.stringContaining(String(id)) });
      expect(() => headerSize(id, {}, 0)).toThrow(RpcError);
    }
  });
});

describe('timeouts', () => {
  it('are sent as the longest uint32 rather than truncated to a short one', () => {
    expect(decodeHeader(encodeHeader({ kind: FrameKind.REQUEST, id: 1, timeoutMs: 2 ** 32 + 5 })).timeoutMs).toBe(0xffffffff);
  });

  it('never become 0 (no deadline) when set: a fraction or an overdue one is sent as 1 ms', () => {
    expect(decodeHeader(encodeHeader({ kind: FrameKind.REQUEST, id: 1, timeoutMs: 0.4 })).timeoutMs).toBe(1);
    expect(decodeHeader(encodeHeader({ kind: FrameKind.REQUEST, id: 1, timeoutMs: -20 })).timeoutMs).toBe(1);
  });
});

describe('partial frames', () => {
  it('hold about one byte of memory per buffered byte, even trickled one byte at a time', () => {
    const frame = encodeFrame({ kind: FrameKind.REQUEST, id: 1, service: 'S', method: 'm' }, Buffer.alloc(256 * 1024, 7));
    const decoder = new FrameDecoder();
    gc();
    const before = process.memoryUsage();
    const frames: Frame[] = [];
    // A fresh buffer per byte, as a socket hands them; what the decoder does not keep is collected.
    for (let i = 0; i < frame.length - 1; i++) decoder.push(Buffer.from([frame[i]!]), (f) => frames.push(f));
    gc();
    const after = process.memoryUsage();
    expect(decoder.pendingBytes).toBe(frame.length - 1);
    const held = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
    expect(held).toBeLessThan(2 * frame.length + 256 * 1024); // it was about 115 bytes per byte, 30 MB
    decoder.push(frame.subarray(frame.length - 1), (f) => frames.push(f));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.body.length).toBe(256 * 1024);
    expect(frames[0]!.body.every((b) => b === 7)).toBe(true);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('allocate by what arrived, not by what the prefix claims', () => {
    const decoder = new FrameDecoder({ maxFrameSize: 2 ** 32 - 1 });
    const prefix = Buffer.alloc(PREFIX_BYTES + 100, 0);
    prefix.write('SV', 0, 'latin1');
    prefix[2] = 1;
    prefix.writeUInt32BE(2 ** 32 - 1, 3); // claims 4 GiB
    prefix.writeUInt32BE(10, 7);
    gc();
    const before = process.memoryUsage().arrayBuffers;
    push(decoder, prefix);
    expect(decoder.pendingBytes).toBe(PREFIX_BYTES + 100);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
  });

  it('say since when a started frame has waited, and 0 when none has', () => {
    const decoder = new FrameDecoder();
    const frame = encodeFrame({ kind: FrameKind.PING, id: 0 }, Buffer.alloc(100));
    expect(decoder.pendingSince).toBe(0);
    const t0 = Date.now();
    push(decoder, frame.subarray(0, 5));
    const since = decoder.pendingSince;
    expect(since).toBeGreaterThanOrEqual(t0);
    expect(since).toBeLessThanOrEqual(Date.now());
    push(decoder, frame.subarray(5, 50));
    expect(decoder.pendingSince).toBe(since); // the same frame: still the time it started
    expect(push(decoder, frame.subarray(50))).toHaveLength(1);
    expect(decoder.pendingSince).toBe(0);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('stop at once on close(), also from inside onFrame, and keep nothing', () => {
    const bytes = Buffer.concat([1, 2, 3].map((id) => encodeFrame({ kind: FrameKind.PING, id })));
    const decoder = new FrameDecoder();
    const ids: number[] = [];
    decoder.push(Buffer.concat([bytes, bytes.subarray(0, 4)]), (f) => {
      ids.push(f.id);
      if (f.id === 2) decoder.close();
    });
    expect(ids).toEqual([1, 2]);
    expect(decoder.isClosed).toBe(true);
    expect(decoder.pendingBytes).toBe(0);
    expect(decoder.pendingSince).toBe(0);
    decoder.push(bytes, (f) => ids.push(f.id));
    expect(ids).toEqual([1, 2]);
  });
});
