import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../client/client.js';
import { staticRegistry } from '../client/registry.js';
import { RpcError } from '../errors/rpc-error.js';
import { Server } from '../server/server.js';
import { silentLogger } from '../logger.js';
import type { ConformanceService } from './conformance-service.js';
import { failureOf } from './failure-of.js';
import type { ConformanceTarget } from './conformance.js';
import { startConformanceServer, type ConformanceServer } from './conformance-server.js';
import { recordingFilter } from './conformance-filters.js';
import { DEFAULT_STREAM_WINDOW, INITIAL_STREAM_WINDOW } from '../stream/outbound-credit.js';
import { steady, until } from './until.js';
import { jsonRequest } from './channel-call.js';
import { StreamKind, type Dispatcher } from '../transport/transport.js';
import { Compression } from '../wire/header.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/**
 * Streams, the same on every transport that carries them (docs/streams.md): order, credit both
 * ways, cancel, errors and the deadline mid-stream, bidi and client streams, limits, and filters
 * that see a stream as one call. A transport whose channels have no `openStream` skips them.
 * Part of describeTransportConformance.
 */
export function describeStreamConformance(name: string, setup: () => Promise<ConformanceTarget>): void {
  describe(`streams: ${name}`, () => {
    let rig: ConformanceServer;
    let service: ConformanceService;
    let client: Client;
    let streams = false;
    const clients: Client[] = [];
    const newClient = (options: Partial<ConstructorParameters<typeof Client>[0]> = {}): Client => {
      const made = new Client({ transport: rig.target.clientTransport ?? rig.target.transport, registry: staticRegistry({ Conformance: [rig.address] }), timeout: 10_000, ...options });
      clients.push(made);
      return made;
    };

    beforeAll(async () => {
      rig = await startConformanceServer(setup);
      service = rig.service;
      const probe = (rig.target.clientTransport ?? rig.target.transport).connect(rig.address);
      streams = typeof probe.openStream === 'function';
      await probe.close();
      client = newClient();
    });
    afterAll(async () => {
      for (const made of clients) await made.close();
      await rig?.stop();
    });

    /** Runs `body` only for transports with streams (a transport made for tests may have none). */
    const test = (title: string, body: () => Promise<void>, timeout?: number) =>
      it(title, async (ctx) => {
        if (!streams) return ctx.skip();
        await body();
      }, timeout);

    test('delivers 10 000 server messages in order', async () => {
      let expected = 0;
      for await (const message of client.serverStream<{ i: number }>('Conformance', 'count', { n: 10_000 })) {
        expect(message.i).toBe(expected);
        expected++;
      }
      expect(expected).toBe(10_000);
    });

    test('keeps a fast producer within the slow consumer\'s window (server stream)', async () => {
      const tag = 'credit-server';
      const pad = 1_000;
      let consumed = 0;
      let worst = 0;
      for await (const message of client.serverStream<{ i: number; pad: string }>('Conformance', 'count', { n: 1_000, pad, tag })) {
        expect(message.i).toBe(consumed);
        consumed++;
        await sleep(consumed < 10 ? 40 : 0);
        // Produced but not consumed: what sits in the window (and in the generator's one pending yield).
        worst = Math.max(worst, (service.produced.get(tag) ?? 0) - consumed);
        if (consumed === 10) break;
      }
      const messageBytes = pad + 20;
      expect(worst).toBeGreaterThan(5); // the window let it run ahead...
      expect(worst * messageBytes).toBeLessThanOrEqual(DEFAULT_STREAM_WINDOW + 3 * messageBytes); // ...by one window at most
      expect(service.produced.get(tag)).toBeLessThan(Math.ceil(DEFAULT_STREAM_WINDOW / messageBytes) + 20);
    });

    test('keeps a fast client producer within the slow server\'s window (client stream)', async () => {
      const tag = 'credit-client';
      let produced = 0;
      let worst = 0;
      const pad = 'y'.repeat(1_000);
      async function* messages() {
        // More than the server's window holds, so the window is what holds the producer back.
        for (let i = 0; i < 400; i++) {
          produced++;
          worst = Math.max(worst, produced - (service.produced.get(`read:${tag}`) ?? 0));
          yield { n: 1, tag, readEveryMs: 3, pad };
        }
      }
      const result = await client.clientStream<{ total: number; count: number }>('Conformance', 'sum', messages());
      expect(result).toEqual({ total: 400, count: 400 });
      expect(worst).toBeGreaterThan(5);
      expect(worst * 1_050).toBeLessThanOrEqual(DEFAULT_STREAM_WINDOW + 3 * 1_050);
    });

    test('leaving the loop early cancels: the handler\'s signal fires and its finally runs', async () => {
      const tag = 'stream-cancel';
      let seen = 0;
      for await (const _ of client.serverStream('Conformance', 'ticks', { tag, everyMs: 5 })) {
        if (++seen === 3) break;
      }
      await until(() => service.finallies.has(tag) && service.aborts.has(tag));
      expect(service.aborts.get(tag)).toBe('CANCELLED');
    });

    test('the caller\'s signal ends the stream with CANCELLED', async () => {
      const tag = 'stream-signal';
      const controller = new AbortController();
      const error = await failureOf(async () => {
        for await (const _ of client.serverStream('Conformance', 'ticks', { tag, everyMs: 5 }, { signal: controller.signal })) controller.abort();
      });
      expect(error).toBeInstanceOf(RpcError);
      expect(error.code).toBe('CANCELLED');
      await until(() => service.finallies.has(tag));
    });

    test('a handler error mid-stream reaches the loop as an RpcError with its code, after the messages before it', async () => {
      const seen: number[] = [];
      const error = await failureOf(async () => {
        for await (const message of client.serverStream<{ i: number }>('Conformance', 'failAfter', { n: 3, code: 'NOT_FOUND', message: 'gone at 3', details: { at: 3 } })) seen.push(message.i);
      });
      expect(seen).toEqual([0, 1, 2]);
      expect(error).toBeInstanceOf(RpcError);
      expect(error).toMatchObject({ code: 'NOT_FOUND', message: 'gone at 3', details: { at: 3 } });
    });

    test('the deadline covers the whole stream: DEADLINE_EXCEEDED mid-stream, the handler stopped', async () => {
      const tag = 'stream-deadline';
      const started = Date.now();
      let seen = 0;
      const error = await failureOf(async () => {
        for await (const _ of client.serverStream('Conformance', 'ticks', { tag, everyMs: 10 }, { timeout: 150 })) seen++;
      });
      expect(error.code).toBe('DEADLINE_EXCEEDED');
      expect(seen).toBeGreaterThan(2);
      expect(Date.now() - started).toBeLessThan(2_000);
      await until(() => service.finallies.has(tag));
      expect(['DEADLINE_EXCEEDED', 'CANCELLED']).toContain(service.aborts.get(tag));
    });

    test('a bidirectional stream echoes 2 000 messages in order', async () => {
      async function* messages() {
        for (let i = 0; i < 2_000; i++) yield { i };
      }
      const back = await collect(client.bidiStream<{ i: number }>('Conformance', 'echoStream', messages()));
      expect(back.map((m) => m.i)).toEqual(Array.from({ length: 2_000 }, (_, i) => i));
    });

    test('a client stream resolves with the handler\'s result, from an async or a plain iterable', async () => {
      async function* numbers() {
        for (let n = 1; n <= 1_000; n++) yield { n };
      }
      expect(await client.clientStream('Conformance', 'sum', numbers())).toEqual({ total: 500_500, count: 1_000 });
      expect(await client.clientStream('Conformance', 'sum', [{ n: 2 }, { n: 3 }])).toEqual({ total: 5, count: 2 });
      expect(await client.clientStream('Conformance', 'sum', [])).toEqual({ total: 0, count: 0 });
    });

    test('carries metadata both ways: request metadata in, the END\'s metadata to onMetadata; ctx.stream names the shape', async () => {
      let back: Record<string, string> | undefined;
      const seen = await collect(client.serverStream<{ i: number; shape: string }>('Conformance', 'shaped', { n: 2 }, { metadata: { 'x-in': 'hi' }, onMetadata: (m) => (back = m) }));
      expect(seen).toEqual([{ i: 0, shape: 'server' }, { i: 1, shape: 'server' }]);
      expect(back).toEqual({ 'x-stream': 're:hi' });
    });

    test('a message larger than the window goes through, both ways', async () => {
      const big = 'z'.repeat(3 * DEFAULT_STREAM_WINDOW);
      const back = await collect(client.bidiStream<{ big: string }>('Conformance', 'echoStream', [{ big }, { big }]));
      expect(back.map((m) => m.big.length)).toEqual([big.length, big.length]);
    });

    test('a larger streamWindow lets the producer run further ahead', async () => {
      const tag = 'credit-large-window';
      const wide = newClient({ streamWindow: 4 * DEFAULT_STREAM_WINDOW });
      let consumed = 0;
      // Messages count their body (about 1 020 bytes of JSON) and 32 bytes more against a window.
      const perWindow = Math.ceil(DEFAULT_STREAM_WINDOW / 1_052);
      for await (const _ of wide.serverStream('Conformance', 'count', { n: 8 * perWindow, pad: 1_000, tag })) {
        consumed++;
        // Further ahead than the default window would let it.
        if (consumed === 1) await until(() => (service.produced.get(tag) ?? 0) > perWindow + 20);
        if (consumed === 2) break;
      }
      expect(service.produced.get(tag)).toBeLessThanOrEqual(4 * perWindow + 3);
    });

    test('a window grows while its consumer keeps up, up to maxStreamWindow (server stream)', async () => {
      const tag = 'window-grows-server';
      const growing = newClient({ streamWindow: INITIAL_STREAM_WINDOW, maxStreamWindow: 4 * INITIAL_STREAM_WINDOW });
      // Messages of about 16 KiB: 4 fill the starting 64 KiB window, 16 the largest.
      const fits = (window: number) => Math.floor(window / 16_052);
      let consumed = 0;
      const ahead = () => (service.produced.get(tag) ?? 0) - consumed;
      let pauses = 0;
      for await (const _ of growing.serverStream('Conformance', 'count', { n: 1_000, pad: 16_000, tag })) {
        if (++consumed % 20 !== 1) continue;
        // The consumer pauses until the producer has spent the window, then takes what came as fast
        // as it comes: the window held the producer back, so it doubles.
        // Six pauses: two growths make 256 KiB, the largest, and a pause cut short by a loaded
        // machine (the producer quiet for 25 ms without its window spent) only costs one; the
        // last waits longer, to measure a producer that has surely stopped.
        await steady(ahead, ++pauses < 6 ? 25 : 150);
        if (pauses < 6) continue;
        // The producer is ahead by the window less what the consumer took since it last granted
        // (under half the window), plus the one it waits to send: at most 5 with the starting
        // window, at least 8 with the largest.
        expect(ahead()).toBeGreaterThanOrEqual(fits(INITIAL_STREAM_WINDOW) + 2);
        expect(ahead()).toBeLessThanOrEqual(fits(4 * INITIAL_STREAM_WINDOW) + 1);
        break;
      }
      expect(pauses).toBe(6);
    });

    test('a window grows while its consumer keeps up (client stream, the server\'s window)', async () => {
      const tag = 'window-grows-client';
      const controller = new AbortController();
      const pad = 'w'.repeat(64_000);
      let produced = 0;
      const ahead = () => produced - (service.produced.get(`read:${tag}`) ?? 0);
      async function* messages() {
        // The server pauses on every 20th message, and takes the others as fast as they come.
        for (; ; produced++) yield { n: 1, tag, pad, readEveryMs: produced % 20 === 19 ? 200 : undefined };
      }
      // The server's starting window holds 4 of these messages: a producer 8 ahead has a grown window.
      const watching = until(() => ahead() >= 8).finally(() => controller.abort());
      const error = await failureOf(() => client.clientStream('Conformance', 'sum', messages(), { signal: controller.signal }));
      await watching;
      expect(error.code).toBe('CANCELLED');
    });

    test('shape mismatches and unknown methods get UNIMPLEMENTED', async () => {
      expect((await failureOf(() => collect(client.serverStream('Conformance', 'nope', {})))).code).toBe('UNIMPLEMENTED');
      // A unary handler called as a server stream, and a stream method called as a unary call.
      expect(await failureOf(() => collect(client.serverStream('Conformance', 'echo', { a: 1 })))).toMatchObject({ code: 'UNIMPLEMENTED', message: expect.stringContaining('AsyncIterable') });
      expect(await failureOf(() => client.invoke('Conformance', 'count', { n: 1 }))).toMatchObject({ code: 'UNIMPLEMENTED', message: expect.stringContaining('serverStream') });
      // A stream handler called as a client stream.
      expect(await failureOf(() => client.clientStream('Conformance', 'count', [{ n: 1 }]))).toMatchObject({ code: 'UNIMPLEMENTED' });
    });

    test('a stream is iterated once', async () => {
      const stream = client.serverStream('Conformance', 'count', { n: 1 });
      expect(await collect(stream)).toHaveLength(1);
      expect(() => stream[Symbol.asyncIterator]()).toThrow(/iterated a second time/);
    });

    test('the caller\'s failing messages cancel the stream with their error as cause', async () => {
      async function* broken() {
        yield { n: 1 };
        throw new Error('source broke');
      }
      const error = await failureOf(() => client.clientStream('Conformance', 'sum', broken()));
      expect(error).toMatchObject({ code: 'CANCELLED', message: expect.stringContaining('source broke') });
    });

    test('a transport carries a MESSAGE\'s blocked flag both ways', async () => {
      // Beneath core: a listener of the target's transport whose streams echo each message with the
      // flag it came with, and a channel that sends four messages, the second and the last flagged.
      const target = await setup();
      const flags = { server: [] as boolean[], client: [] as boolean[] };
      const dispatcher: Dispatcher = {
        dispatch: () => ({ cancel: () => {} }),
        dispatchStream: (_request, sender) => ({
          message: (body, compression, blocked) => {
            flags.server.push(blocked === true);
            sender.message(body, compression, blocked);
          },
          window: () => {},
          end: () => sender.end({ status: 0, metadata: undefined }),
          fail: () => {},
        }),
        logger: silentLogger,
        serviceDefinitions: [{ name: 'Flags', options: {}, methods: new Map([['echo', { name: 'echo', property: 'echo', options: {} }]]) }],
      };
      const listener = await target.transport.listen(target.listenAddress, dispatcher);
      const channel = (target.clientTransport ?? target.transport).connect(listener.address);
      try {
        let ended = false;
        const sender = channel.openStream!({ ...jsonRequest('Flags', 'echo', null), body: new Uint8Array(0), stream: StreamKind.BIDI }, {
          message: (_body, _compression, blocked) => flags.client.push(blocked === true),
          window: () => {},
          end: () => (ended = true),
          fail: () => {},
        });
        for (const blocked of [false, true, false]) sender.message(Buffer.from('{}'), Compression.NONE, blocked);
        // One larger than a NATS message (1 MiB by default), so that it travels in pieces there.
        sender.message(Buffer.alloc(1_500_000, 0x20), Compression.NONE, true);
        sender.end({ status: 0, metadata: undefined });
        await until(() => ended);
        expect(flags.server).toEqual([false, true, false, true]);
        expect(flags.client).toEqual([false, true, false, true]);
      } finally {
        await channel.close();
        await listener.close();
        await target.teardown?.();
      }
    });

    describe('compressed messages (both sides with compression)', () => {
      let compressed: Server;
      let address: string;
      let target: ConformanceTarget;
      const compression = { algorithm: 'gzip' as const, threshold: 256 };
      beforeAll(async () => {
        target = await setup();
        compressed = new Server({ transport: target.transport, logger: silentLogger, compression }).register(service);
        address = await compressed.listen(target.listenAddress);
      });
      afterAll(async () => {
        await compressed?.close({ drainTimeout: 500 });
        await target?.teardown?.();
      });
      const compressingClient = (options: Partial<ConstructorParameters<typeof Client>[0]> = {}) =>
        newClient({ transport: target.clientTransport ?? target.transport, registry: staticRegistry({ Conformance: [address] }), compression, ...options });

      test('a server stream of compressed messages arrives whole and in order', async () => {
        const seen = await collect(compressingClient().serverStream<{ i: number; pad: string }>('Conformance', 'count', { n: 300, pad: 4_000 }));
        expect(seen.map((m) => m.i)).toEqual(Array.from({ length: 300 }, (_, i) => i));
        expect(seen.every((m) => m.pad === 'x'.repeat(4_000))).toBe(true);
      });

      test('a bidi stream echoes compressed and plain messages both ways, in order, past the window many times over', async () => {
        // 2 MiB of compressible text each way: far more than the 256 KiB window, so credit is counted and given back on compressed bytes.
        const sent = Array.from({ length: 400 }, (_, i) => (i % 3 === 0 ? { i } : { i, text: `${i}`.padEnd(5_000, 'abc') }));
        const echoed = await collect(compressingClient().bidiStream<{ i: number; text?: string }>('Conformance', 'echoStream', sent));
        expect(echoed).toEqual(sent);
      });

      test('a client stream compresses what it sends to a server that reads it', async () => {
        const messages = Array.from({ length: 200 }, (_, n) => ({ n, tag: 'z'.repeat(2_000) }));
        expect(await compressingClient().clientStream('Conformance', 'sum', messages)).toEqual({ total: 19_900, count: 200 });
      });

      test('a compressed message that inflates past the receiver’s maxDecompressedSize ends its stream with RESOURCE_EXHAUSTED', async () => {
        const small = compressingClient({ maxDecompressedSize: 64 * 1024 });
        const error = await failureOf(() => collect(small.serverStream('Conformance', 'count', { n: 3, pad: 200_000 })));
        expect(error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maxDecompressedSize') });
        // The client is still good for the next stream.
        expect(await collect(small.serverStream<{ i: number }>('Conformance', 'count', { n: 2 }))).toHaveLength(2);
      });
    });

    describe('filters see a stream as one call', () => {
      let filtered: Server;
      let address: string;
      let target: ConformanceTarget;
      const log: string[] = [];
      beforeAll(async () => {
        target = await setup();
        filtered = new Server({ transport: target.transport, logger: silentLogger, filters: [recordingFilter(log, 'server')] }).register(service);
        address = await filtered.listen(target.listenAddress);
      });
      afterAll(async () => {
        await filtered?.close({ drainTimeout: 500 });
        await target?.teardown?.();
      });
      const filteredClient = () => newClient({ transport: target.clientTransport ?? target.transport, registry: staticRegistry({ Conformance: [address] }), filters: [recordingFilter(log, 'call')] });

      test('next() settles when the stream ends, on both sides', async () => {
        log.length = 0;
        const seen = await collect(filteredClient().serverStream<{ i: number }>('Conformance', 'count', { n: 5 }));
        expect(seen).toHaveLength(5);
        await until(() => log.length === 4);
        expect([...log].sort()).toEqual(['call finally', 'call ok', 'server finally', 'server ok']);
      });

      test('a cancelled stream settles the filters with CANCELLED', async () => {
        log.length = 0;
        const tag = 'filter-cancel';
        let seen = 0;
        for await (const _ of filteredClient().serverStream('Conformance', 'ticks', { tag, everyMs: 5 })) if (++seen === 2) break;
        await until(() => log.length === 4);
        expect(log.slice(0, 2)).toEqual(['call CANCELLED', 'call finally']);
        expect(log.slice(2)).toEqual(['server CANCELLED', 'server finally']);
      });

      test('an error mid-stream settles the filters with its code, and the loop gets it', async () => {
        log.length = 0;
        const error = await failureOf(() => collect(filteredClient().serverStream('Conformance', 'failAfter', { n: 2, code: 'ABORTED', message: 'no' })));
        expect(error.code).toBe('ABORTED');
        await until(() => log.length === 4);
        expect([...log].sort()).toEqual(['call ABORTED', 'call finally', 'server ABORTED', 'server finally']);
      });
    });
  });
}
