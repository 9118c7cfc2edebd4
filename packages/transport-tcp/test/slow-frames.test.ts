import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Server, silentLogger, staticRegistry } from '@svc/core';
import { FrameKind } from '@svc/core/transport';
import { tcp } from '../src/index.js';
import type { TcpListener } from '../src/tcp-listener.js';
import { Counter } from './counter-service.js';
import { Echo, portOf, sleep, until } from './helpers.js';
import { prefixClaiming, RawPeer, request } from './raw-peer.js';

// Issue 12, item 6: a started frame has a deadline, and incomplete frames share one cap per listener.
describe('slow and partial frames', () => {
  const frameTimeout = 400;
  const maxBufferedBytes = 1024 * 1024;
  let server: Server;
  let counter: Counter;
  let listener: TcpListener;
  let port: number;
  let client: Client;

  beforeAll(async () => {
    const transport = tcp({ frameTimeout, maxBufferedBytes, maxFrameSize: 4 * 1024 * 1024 });
    counter = new Counter();
    server = new Server({ transport, logger: silentLogger }).register(counter).register(new Echo());
    listener = (await transport.listen('tcp://127.0.0.1:0', server)) as TcpListener;
    port = portOf(listener.address);
    client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [listener.address] }), timeout: 5_000 });
  });
  afterAll(async () => {
    await client.close();
    await listener.close();
  });

  it('closes a connection that trickles a frame, although every byte resets the heartbeat', async () => {
    const before = counter.seen.length;
    const frame = request(1, 'Counter', 'hit', { slow: 'x'.repeat(200) });
    const peer = await RawPeer.connect(port);
    const started = Date.now();
    // One byte every 50 ms: the frame would take more than 12 s; bounded by the close.
    for (let i = 0; i < frame.length && peer.closedAt === 0 && Date.now() - started < 3_000; i++) {
      peer.write(frame.subarray(i, i + 1));
      await sleep(50);
    }
    expect(await peer.closedWithin(3_000)).toBe(true);
    // Within the deadline plus the timer's period (half the shortest limit), with a margin.
    expect(peer.closedAt - started).toBeLessThan(frameTimeout * 2 + 300);
    expect(peer.goaway).toMatchObject({ status: 4, message: expect.stringMatching(/not completed within 400 ms/) });
    expect(counter.seen.length).toBe(before);
    expect(await client.invoke('Echo', 'echo', { still: 'serving' })).toEqual({ still: 'serving' });
  });

  it('lets a frame that arrives in pieces but in time complete', async () => {
    const frame = request(1, 'Counter', 'hit', { pieces: 'y'.repeat(1_000) });
    const peer = await RawPeer.connect(port);
    for (let i = 0; i < frame.length; i += 256) {
      peer.write(frame.subarray(i, i + 256));
      await sleep(20);
    }
    await until(() => peer.frames.some((f) => f.kind === FrameKind.RESPONSE), 3_000);
    expect(peer.frames.find((f) => f.kind === FrameKind.RESPONSE)?.status ?? 0).toBe(0);
    peer.destroy();
  });

  it('holds at most maxBufferedBytes of incomplete frames across connections, closing the one that goes over', async () => {
    // Each peer starts a 4 MiB frame and sends 300 KiB of it. The budget counts the memory a
    // partial frame holds (its assembly buffer grows by doubling, so 300 KiB hold 300 to 600 KiB,
    // depending on how the bytes were split into reads): one to three of them fit in 1 MiB.
    const part = Buffer.concat([prefixClaiming(4 * 1024 * 1024), Buffer.alloc(300 * 1024 - 11)]);
    const peers: RawPeer[] = [];
    for (let i = 0; i < 6; i++) {
      const before = listener.stats.bufferedBytes;
      const peer = await RawPeer.connect(port);
      peer.write(part);
      peers.push(peer);
      await until(() => listener.stats.bufferedBytes >= before + part.length || peer.goaway !== undefined, 2_000);
      expect(listener.stats.bufferedBytes).toBeLessThanOrEqual(maxBufferedBytes);
    }
    const kept = peers.filter((p) => p.goaway === undefined);
    expect(kept.length).toBeGreaterThanOrEqual(1);
    expect(kept.length).toBeLessThanOrEqual(3);
    // The first ones keep their frames (until their deadline); every later one was told why.
    expect(peers.slice(0, kept.length)).toEqual(kept);
    const refused = peers.slice(kept.length);
    await until(() => refused.every((p) => p.closedAt !== 0), 2_000);
    for (const p of refused) expect(p.goaway).toMatchObject({ status: 8, message: expect.stringMatching(/more than 1048576 bytes of incomplete frames/) });
    expect(kept.every((p) => p.closedAt === 0)).toBe(true);
    expect(await client.invoke('Echo', 'echo', { meanwhile: true })).toEqual({ meanwhile: true });
    for (const p of peers) p.destroy();
    await until(() => listener.stats.bufferedBytes === 0, 2_000);
  });

  it('gives the bytes back when a connection with a partial frame goes away', async () => {
    const peer = await RawPeer.connect(port);
    // 10 KB of a 64 KiB frame: the decoder holds a buffer of the frame's size (the length field
    // and the 7 bytes before it), and that is counted.
    peer.write(prefixClaiming(64 * 1024), Buffer.alloc(10_000));
    await until(() => listener.stats.bufferedBytes === 7 + 64 * 1024, 2_000);
    peer.destroy();
    await until(() => listener.stats.bufferedBytes === 0, 2_000);
  });

  it('does not count a stream of whole frames split across reads as one slow frame', async () => {
    // Frames back to back, each split across writes, for longer than the deadline: never closed.
    const peer = await RawPeer.connect(port);
    const started = Date.now();
    let id = 0;
    while (Date.now() - started < frameTimeout * 3) {
      const a = request(++id, 'Counter', 'hit', { n: id });
      const b = request(++id, 'Counter', 'hit', { n: id });
      const both = Buffer.concat([a, b]);
      const cut = a.length + 5; // the second frame is always incomplete at the end of a write
      peer.write(both.subarray(0, cut));
      await sleep(30);
      peer.write(both.subarray(cut));
    }
    await until(() => peer.frames.filter((f) => f.kind === FrameKind.RESPONSE).length === id, 3_000);
    expect(peer.closedAt).toBe(0);
    peer.destroy();
  });
});
