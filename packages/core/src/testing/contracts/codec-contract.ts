import { describe, expect, it } from 'vitest';
import type { Codec } from '../../codec/codec.js';

export interface CodecCase {
  service: string;
  method: string;
  request: unknown;
  response: unknown;
}

/**
 * What every Codec must do, as vitest tests, for the methods it carries (`cases`): a stable
 * name; serializers for those methods (undefined for others is allowed); values that come back
 * equal; bytes that stay the caller's once returned; garbage that fails with an error rather than
 * crashing or hanging (the framework turns any error into INVALID_ARGUMENT or INTERNAL).
 */
export function describeCodecContract(name: string, make: () => Codec, cases: readonly CodecCase[]): void {
  describe(`codec contract: ${name}`, () => {
    it('has a name that can travel in a frame header', () => {
      const codec = make();
      expect(codec.name).toMatch(/^[\x21-\x7e]{1,64}$/);
    });

    it('gives serializers for its methods, the same for every ask', () => {
      const codec = make();
      for (const c of cases) {
        const first = codec.forMethod(c.service, c.method);
        expect(first, `${c.service}.${c.method}`).toBeDefined();
        const again = codec.forMethod(c.service, c.method)!;
        expect(again.decodeRequest(again.encodeRequest(c.request))).toEqual(first!.decodeRequest(first!.encodeRequest(c.request)));
      }
    });

    it('brings requests and responses back equal', () => {
      const codec = make();
      for (const c of cases) {
        const s = codec.forMethod(c.service, c.method)!;
        expect(s.decodeRequest(s.encodeRequest(c.request))).toEqual(c.request);
        expect(s.decodeResponse(s.encodeResponse(c.response))).toEqual(c.response);
      }
    });

    it('never writes again to bytes it returned', () => {
      const codec = make();
      for (const c of cases) {
        const s = codec.forMethod(c.service, c.method)!;
        const first = s.encodeRequest(c.request);
        const copy = Uint8Array.from(first);
        for (let i = 0; i < 20; i++) s.encodeRequest(c.request), s.encodeResponse(c.response);
        expect(Uint8Array.from(first)).toEqual(copy);
      }
    });

    it('fails on garbage with an error, or decodes it to some value, but never crashes or hangs', () => {
      const codec = make();
      const garbage = [Uint8Array.of(0xff), Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), Buffer.from('{"unterminated'), Uint8Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff)];
      for (const c of cases) {
        const s = codec.forMethod(c.service, c.method)!;
        for (const bytes of garbage) {
          for (const decode of [s.decodeRequest, s.decodeResponse]) {
            try {
              decode(bytes);
            } catch (error) {
              expect(error).toBeInstanceOf(Error);
            }
          }
        }
      }
    });
  });
}
