/** Stream messages compressed on the wire (MESSAGE frames with `compression`), seen from raw peers on both ends. */
import { afterEach, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Client, Server, silentLogger, staticRegistry } from '@svc/core';
import { StreamsTestService as Streams } from '@svc/core/testing';
import { Compression, encodeFrame, FrameDecoder, FrameKind, StreamKind, type Frame } from '@svc/core/transport';
import { tcp } from '../src/index.js';
import { portOf, until } from './helpers.js';
import { RawPeer } from './raw-peer.js';

const gzip = { algorithm: 'gzip' as const, threshold: 256 };

let stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

async function serve(): Promise<{ server: Server; port: number }> {
  const server = new Server({ transport: tcp(), logger: silentLogger, compression: gzip, maxDecompressedSize: 1024 * 1024 }).register(new Streams());
  const address = await server.listen('tcp://127.0.0.1:0');
  stops.push(() => server.close({ drainTimeout: 200 }));
  return { server, port: portOf(address) };
}

async function peerOf(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  stops.push(() => void peer.socket.destroy());
  return peer;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** Opens client stream `id` of Streams.sum on the raw connection. */
function openSum(peer: RawPeer, id: number): void {
  peer.write(encodeFrame({ kind: FrameKind.REQUEST, id, service: 'Streams', method: 'sum', codec: 'json', stream: StreamKind.CLIENT }));
}

function endOf(peer: RawPeer, id: number): Frame | undefined {
  return peer.frames.find((f) => f.kind === FrameKind.END && f.id === id);
}

describe('compressed stream messages over TCP', () => {
  it('a server with compression sends large messages gzipped, small ones as they are', async () => {
    const { port } = await serve();
    const peer = await peerOf(port);
    peer.write(encodeFrame({ kind: FrameKind.REQUEST, id: 1, service: 'Streams', method: 'pour', codec: 'json', stream: StreamKind.SERVER }, json({ count: 3, size: 20_000 })));
    peer.write(encodeFrame({ kind: FrameKind.REQUEST, id: 2, service: 'Streams', method: 'pour', codec: 'json', stream: StreamKind.SERVER }, json({ count: 1, size: 10 })));
    await until(() => endOf(peer, 1) !== undefined && endOf(peer, 2) !== undefined);
    const large = peer.frames.filter((f) => f.kind === FrameKind.MESSAGE && f.id === 1);
    expect(large).toHaveLength(3);
    for (const frame of large) {
      expect(frame.compression).toBe(Compression.GZIP);
      expect(frame.body.length).toBeLessThan(2_000);
      expect(JSON.parse(gunzipSync(frame.body).toString())).toHaveLength(20_000);
    }
    const small = peer.frames.find((f) => f.kind === FrameKind.MESSAGE && f.id === 2)!;
    expect(small.compression).toBe(Compression.NONE);
  });

  it('a server inflates a client’s gzipped messages, and answers', async () => {
    const { port } = await serve();
    const peer = await peerOf(port);
    openSum(peer, 1);
    peer.write(encodeFrame({ kind: FrameKind.MESSAGE, id: 1, compression: Compression.GZIP }, gzipSync(json({ n: 5 }))));
    peer.write(encodeFrame({ kind: FrameKind.MESSAGE, id: 1 }, json({ n: 2 })));
    peer.write(encodeFrame({ kind: FrameKind.END, id: 1 }));
    await until(() => endOf(peer, 1) !== undefined);
    expect(endOf(peer, 1)!.status ?? 0).toBe(0);
    const answer = peer.frames.find((f) => f.kind === FrameKind.MESSAGE && f.id === 1)!;
    expect(JSON.parse(Buffer.from(answer.body).toString())).toBe(7);
  });

  it('a message that inflates past maxDecompressedSize, a corrupt one and an unknown flag each end their own stream; the connection serves the next', async () => {
    const { server, port } = await serve();
    const peer = await peerOf(port);
    // 16 MiB of zeros in about 16 KiB: a bomb against the server's 1 MiB limit.
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    openSum(peer, 1);
    peer.write(encodeFrame({ kind: FrameKind.MESSAGE, id: 1, compression: Compression.GZIP }, bomb));
    openSum(peer, 3);
    peer.write(encodeFrame({ kind: FrameKind.MESSAGE, id: 3, compression: Compression.GZIP }, Buffer.from('not gzip at all, not even close')));
    openSum(peer, 5);
    peer.write(encodeFrame({ kind: FrameKind.MESSAGE, id: 5, compression: 7 as Compression }, json({ n: 1 })));
    await until(() => [1, 3, 5].every((id) => endOf(peer, id) !== undefined));
    expect(endOf(peer, 1)).toMatchObject({ status: 8, message: expect.stringContaining('maxDecompressedSize') }); // RESOURCE_EXHAUSTED
    expect(endOf(peer, 3)).toMatchObject({ status: 15 }); // DATA_LOSS
    expect(endOf(peer, 5)).toMatchObject({ status: 15 });
    openSum(peer, 7);
    peer.write(encodeFrame({ kind: FrameKind.MESSAGE, id: 7 }, json({ n: 4 })));
    peer.write(encodeFrame({ kind: FrameKind.END, id: 7 }));
    await until(() => endOf(peer, 7) !== undefined);
    expect(endOf(peer, 7)!.status ?? 0).toBe(0);
    await until(() => server.inflightCount === 0);
  });

  it('a client with compression sends large messages gzipped (seen by a raw server)', async () => {
    const seen: Frame[] = [];
    const raw = net.createServer((socket) => {
      const decoder = new FrameDecoder();
      socket.on('error', () => {});
      socket.on('data', (chunk) =>
        decoder.push(chunk, (frame) => {
          seen.push(frame);
          // The client's END: answer the stream as a server would, its result then an END.
          if (frame.kind === FrameKind.END) socket.write(Buffer.concat([encodeFrame({ kind: FrameKind.MESSAGE, id: frame.id }, json(0)), encodeFrame({ kind: FrameKind.END, id: frame.id })]));
        }),
      );
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    stops.push(() => new Promise<void>((resolve) => raw.close(() => resolve())));
    const address = `tcp://127.0.0.1:${(raw.address() as net.AddressInfo).port}`;
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Streams: [address] }), compression: gzip, logger: silentLogger });
    stops.push(() => client.close());
    expect(await client.clientStream('Streams', 'sum', [{ n: 1, pad: 'q'.repeat(30_000) }, { n: 2 }])).toBe(0);
    const messages = seen.filter((f) => f.kind === FrameKind.MESSAGE);
    expect(messages.map((m) => m.compression)).toEqual([Compression.GZIP, Compression.NONE]);
    expect(messages[0]!.body.length).toBeLessThan(1_000);
    expect(JSON.parse(gunzipSync(messages[0]!.body).toString())).toMatchObject({ n: 1 });
  });
});
