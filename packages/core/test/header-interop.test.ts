import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeHeader, encodeHeader, FrameKind, type FrameHeader } from '../src/wire/header.js';
import { RpcError } from '../src/errors/rpc-error.js';

// The .proto of docs/wire-format.md, read by protobufjs: the hand-written codec must agree with it.
const root = protobuf.parse(`
syntax = "proto3";
package svc.wire.v1;
message Header {
  uint32 kind = 1; uint32 id = 2; string service = 3; string method = 4; string codec = 5;
  uint32 compression = 6; uint32 timeout_ms = 7; map<string, string> metadata = 8;
  uint32 status = 9; string message = 10; string details = 11; string stack = 12;
  uint32 progress = 13; uint32 retryable = 14; uint32 stream = 15; uint32 credit = 16;
  bool blocked = 17;
}`).root;
const Header = root.lookupType('svc.wire.v1.Header');

function randomString(rand: () => number, max: number): string {
  const alphabet = ['a', 'Z', '9', '-', 'é', '日', '😀', ' '];
  return Array.from({ length: Math.floor(rand() * max) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
}

function lcg(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

describe('frame header codec against protobufjs', () => {
  it('agrees both ways on 500 random headers', () => {
    const rand = lcg(42);
    for (let i = 0; i < 500; i++) {
      const h: FrameHeader = { kind: (1 + Math.floor(rand() * 9)) as FrameKind, id: Math.floor(rand() * 2 ** 32) };
      if (rand() < 0.3) h.stream = 1 + Math.floor(rand() * 3);
      if (rand() < 0.3) h.credit = 1 + Math.floor(rand() * (2 ** 32 - 1));
      if (rand() < 0.3) h.blocked = true;
      if (rand() < 0.7) h.service = randomString(rand, 20) || 'S';
      if (rand() < 0.7) h.method = randomString(rand, 20) || 'm';
      if (rand() < 0.5) h.timeoutMs = Math.floor(rand() * 2 ** 31) || 1;
      if (rand() < 0.5) h.metadata = Object.fromEntries(Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, k) => [`k${k}${randomString(rand, 5)}`, randomString(rand, 30)]));
      if (rand() < 0.3) h.status = 1 + Math.floor(rand() * 16);
      if (rand() < 0.3) h.message = randomString(rand, 200) || 'x';
      const bytes = encodeHeader(h);
      const viaLibrary = Header.toObject(Header.decode(bytes), { defaults: false }) as Record<string, unknown>;
      expect(viaLibrary.id ?? 0).toBe(h.id);
      expect(viaLibrary.service ?? undefined).toBe(h.service);
      expect(viaLibrary.timeoutMs ?? undefined).toBe(h.timeoutMs);
      expect(viaLibrary.metadata ?? undefined).toEqual(h.metadata);
      expect(viaLibrary.message ?? undefined).toBe(h.message);
      expect(viaLibrary.stream ?? undefined).toBe(h.stream);
      expect(viaLibrary.credit ?? undefined).toBe(h.credit);
      expect(viaLibrary.blocked ?? undefined).toBe(h.blocked);
      expect(decodeHeader(Header.encode(Header.fromObject(viaLibrary)).finish())).toEqual(h);
      expect(decodeHeader(bytes)).toEqual(h);
    }
  });

  it('throws only protocol errors, never hangs or reads out of bounds, on 5,000 random byte strings', () => {
    const rand = lcg(7);
    let threw = 0;
    for (let i = 0; i < 5_000; i++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256)));
      try {
        decodeHeader(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(RpcError);
        expect(error).toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/^protocol error: /) });
        threw++;
      }
    }
    expect(threw).toBeGreaterThan(1_000);
  });
});

describe('stream header fields', () => {
  it('carries stream (15) and credit (16, a two-byte tag) and refuses a credit above 2^32 - 1', () => {
    const h: FrameHeader = { kind: FrameKind.WINDOW, id: 3, credit: 0xffffffff };
    expect(decodeHeader(encodeHeader(h))).toEqual(h);
    expect(decodeHeader(encodeHeader({ kind: FrameKind.REQUEST, id: 1, stream: 3 }))).toEqual({ kind: FrameKind.REQUEST, id: 1, stream: 3 });
    // kind WINDOW, id 3, credit 2^32 as a varint after the tag 0x80 0x01.
    const tooBig = Uint8Array.from([0x08, 9, 0x10, 3, 0x80, 0x01, 0x80, 0x80, 0x80, 0x80, 0x10]);
    expect(() => decodeHeader(tooBig)).toThrow(/window credit 4294967296/);
  });

  it('carries blocked (17, a two-byte tag) on a MESSAGE, and leaves it out when false', () => {
    const blocked = encodeHeader({ kind: FrameKind.MESSAGE, id: 5, blocked: true });
    expect(Array.from(blocked)).toEqual([0x08, 7, 0x10, 5, 0x88, 0x01, 1]);
    expect(decodeHeader(blocked)).toEqual({ kind: FrameKind.MESSAGE, id: 5, blocked: true });
    expect(Array.from(encodeHeader({ kind: FrameKind.MESSAGE, id: 5, blocked: false }))).toEqual([0x08, 7, 0x10, 5]);
  });
});
