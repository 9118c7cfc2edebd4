import { describe, expect, it } from 'vitest';
import { Client, Method, Server, Service, inproc, silentLogger, staticRegistry, type CallContext, type Metadata } from '../src/index.js';
import { encodeFrame } from '../src/wire/frame.js';
import { FrameDecoder, type Frame } from '../src/wire/frame-decoder.js';
import { decodeHeader, encodeHeader, FrameKind } from '../src/wire/header.js';
import type { ReplyTarget, ResponseMessage } from '../src/transport/transport.js';

// Metadata as it comes off the wire: own keys in a map without Object.prototype, and caps checked
// while decoding so that what a peer sends cannot cost more than the caps (issue 12, #8).

function decodeOne(bytes: Buffer, options?: ConstructorParameters<typeof FrameDecoder>[0]): { frame: Frame; decoder: FrameDecoder } {
  const decoder = new FrameDecoder(options);
  const frames: Frame[] = [];
  decoder.push(bytes, (f) => frames.push(f));
  expect(frames).toHaveLength(1);
  return { frame: frames[0]!, decoder };
}

function many(entries: number, value = 'v'): Metadata {
  return Object.fromEntries(Array.from({ length: entries }, (_, i) => [`k${i}`, value]));
}

describe('decoded metadata', () => {
  it('keeps __proto__, constructor and toString as ordinary own keys', () => {
    const metadata = JSON.parse('{"__proto__": "p", "constructor": "c", "toString": "t", "hasOwnProperty": "h"}') as Metadata;
    const decoded = decodeHeader(encodeHeader({ kind: FrameKind.REQUEST, id: 1, metadata })).metadata!;
    expect(Object.keys(decoded).sort()).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'toString']);
    expect(Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value).toBe('p');
    expect(decoded.constructor).toBe('c');
  });

  it('has no Object.prototype behind it, so a lookup finds own keys only', () => {
    const decoded = decodeHeader(encodeHeader({ kind: FrameKind.REQUEST, id: 1, metadata: { a: '1' } })).metadata!;
    expect('toString' in decoded).toBe(false);
    expect(decoded.hasOwnProperty).toBeUndefined();
    const keys: string[] = [];
    for (const key in decoded) keys.push(key);
    expect(keys).toEqual(['a']);
    expect(JSON.stringify(decoded)).toBe('{"a":"1"}');
  });

  it('is written from own keys only, never inherited enumerable ones', () => {
    const metadata = Object.create({ inherited: 'x' }) as Metadata;
    metadata.own = 'y';
    expect(decodeHeader(encodeHeader({ kind: FrameKind.REQUEST, id: 1, metadata })).metadata).toEqual({ own: 'y' });
  });

  it('reaches a handler and comes back with __proto__ intact over a framed transport', async () => {
    @Service('Echo')
    class Echo {
      @Method()
      async echo(_: unknown, ctx: CallContext): Promise<string[]> {
        ctx.sendMetadata(ctx.metadata);
        return Object.keys(ctx.metadata);
      }
    }
    const server = new Server({ transport: inproc(), logger: silentLogger }).register(new Echo());
    const request = decodeOne(encodeFrame({ kind: FrameKind.REQUEST, id: 9, service: 'Echo', method: 'echo', codec: 'json', metadata: JSON.parse('{"__proto__": "p", "x": "1"}') as Metadata }, Buffer.from('{}'))).frame;
    const response = await new Promise<ResponseMessage>((resolve) => server.dispatch(request, { reply: (_id, r) => resolve(r) }));
    expect(Buffer.from(response.body).toString()).toBe('["__proto__","x"]');
    const back = decodeHeader(encodeHeader({ kind: FrameKind.RESPONSE, id: 9, metadata: response.metadata })).metadata!;
    expect(Object.entries(back)).toEqual([['__proto__', 'p'], ['x', '1']]);
  });
});

describe('metadata caps while decoding', () => {
  it('marks a request over the entry cap RESOURCE_EXHAUSTED and keeps none of it; the decoder goes on', () => {
    const over = encodeFrame({ kind: FrameKind.REQUEST, id: 1, service: 'S', method: 'm', metadata: many(65) });
    const next = encodeFrame({ kind: FrameKind.REQUEST, id: 2, service: 'S', method: 'm', metadata: many(64) });
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    decoder.push(Buffer.concat([over, next]), (f) => frames.push(f));
    expect(frames).toHaveLength(2);
    expect(frames[0]!.violation).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maxMetadataEntries (64)') });
    expect(frames[0]!.metadata).toBeUndefined();
    expect(frames[0]).toMatchObject({ id: 1, service: 'S', method: 'm' });
    expect(frames[1]!.violation).toBeUndefined();
    expect(Object.keys(frames[1]!.metadata!)).toHaveLength(64);
    expect(decoder.isClosed).toBe(false);
  });

  it('marks a frame over the byte cap, counting keys and values in UTF-8', () => {
    const { frame } = decodeOne(encodeFrame({ kind: FrameKind.RESPONSE, id: 3, metadata: { k: 'é'.repeat(8_192) } }));
    expect(frame.violation).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maxMetadataBytes (16384)') });
    expect(decodeOne(encodeFrame({ kind: FrameKind.RESPONSE, id: 3, metadata: { k: 'é'.repeat(8_191) + 'x' } })).frame.violation).toBeUndefined();
  });

  it('takes its caps from the decoder options, and decodeHeader from its own', () => {
    const bytes = encodeFrame({ kind: FrameKind.REQUEST, id: 1, metadata: many(3, 'abc') });
    expect(decodeOne(bytes, { maxMetadataEntries: 2 }).frame.violation?.message).toContain('maxMetadataEntries (2)');
    // Keys 'k0'..'k2' and values 'abc': 3 × (2 + 3) = 15 bytes.
    expect(decodeOne(bytes, { maxMetadataBytes: 14 }).frame.violation?.message).toContain('maxMetadataBytes (14)');
    expect(decodeOne(bytes, { maxMetadataEntries: 3, maxMetadataBytes: 15 }).frame.violation).toBeUndefined();
    expect(decodeHeader(encodeHeader({ kind: FrameKind.REQUEST, id: 1, metadata: many(3) }), 0, undefined, { maxMetadataEntries: 2, maxMetadataBytes: 100 }).violation?.code).toBe('RESOURCE_EXHAUSTED');
  });

  it('costs nothing beyond the caps: a header of 100,000 entries keeps no map at all', () => {
    const { frame } = decodeOne(encodeFrame({ kind: FrameKind.REQUEST, id: 1, metadata: many(100_000, '') }));
    expect(frame.metadata).toBeUndefined();
    expect(frame.violation?.message).toContain('100000 entries');
  });

  it('answers a request over the caps with RESOURCE_EXHAUSTED without running its handler', async () => {
    let ran = 0;
    @Service('Capped')
    class Capped {
      @Method()
      async m(): Promise<string> {
        ran++;
        return 'ran';
      }
    }
    const server = new Server({ transport: inproc(), logger: silentLogger }).register(new Capped());
    const { frame } = decodeOne(encodeFrame({ kind: FrameKind.REQUEST, id: 5, service: 'Capped', method: 'm', codec: 'json', metadata: many(65) }, Buffer.from('{}')));
    const response = await new Promise<ResponseMessage>((resolve) => {
      const replyTo: ReplyTarget = { reply: (_id, r) => resolve(r) };
      server.dispatch(frame, replyTo);
    });
    expect(response.status).toBe(8);
    expect(response.message).toContain('maxMetadataEntries (64)');
    expect(ran).toBe(0);
  });

  it('fails a call whose response is over the caps, on the client (in-process caps)', async () => {
    @Service('Chatty')
    class Chatty {
      @Method()
      async m(request: { entries: number }, ctx: CallContext): Promise<string> {
        ctx.sendMetadata(many(request.entries));
        return 'ok';
      }
    }
    const t = inproc({ maxMetadataEntries: 3 });
    const server = new Server({ transport: t, logger: silentLogger }).register(new Chatty());
    const client = new Client({ transport: t, registry: staticRegistry({ Chatty: [await server.listen('inproc://chatty')] }) });
    await expect(client.invoke('Chatty', 'm', { entries: 4 })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maxMetadataEntries (3)') });
    expect(await client.invoke('Chatty', 'm', { entries: 3 })).toBe('ok');
    await expect(client.invoke('Chatty', 'm', { entries: 0 }, { metadata: many(4) })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    await server.close();
  });

  it('gives the handler its own copy in-process, not the caller\'s object', async () => {
    @Service('Mutates')
    class Mutates {
      @Method()
      async m(_: unknown, ctx: CallContext): Promise<boolean> {
        (ctx.metadata as Record<string, string>).added = 'by the handler';
        return 'toString' in ctx.metadata;
      }
    }
    const t = inproc();
    const server = new Server({ transport: t, logger: silentLogger }).register(new Mutates());
    const client = new Client({ transport: t, registry: staticRegistry({ Mutates: [await server.listen('inproc://mutates')] }) });
    const mine: Metadata = { a: '1' };
    expect(await client.invoke('Mutates', 'm', {}, { metadata: mine })).toBe(false);
    expect(mine).toEqual({ a: '1' });
    await server.close();
  });
});
