import { describe, expect, it } from 'vitest';
import { Client, RpcError, Server, silentLogger, staticRegistry } from '@svc/core';
import { StreamsTestService as Streams, failureOf } from '@svc/core/testing';
import * as net from 'node:net';
import { DEFAULT_STREAM_WINDOW, encodeFrame, FrameDecoder, FrameKind, StreamKind } from '@svc/core/transport';
import { tcp } from '../src/index.js';
import { portOf, startChildServer, startStreamingClient, until } from './helpers.js';
import { RawPeer } from './raw-peer.js';

async function serve(options: Parameters<typeof tcp>[0] = {}): Promise<{ server: Server; service: Streams; address: string }> {
  const service = new Streams();
  const server = new Server({ transport: tcp(options), logger: silentLogger, drainTimeout: 5_000 }).register(service);
  const address = await server.listen('tcp://127.0.0.1:0');
  return { server, service, address };
}

describe('tcp streams', () => {
  it('a server killed mid-stream ends every loop on the connection with UNAVAILABLE, without hanging', async () => {
    const child = await startChildServer('tcp://127.0.0.1:0');
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [child.address] }), timeout: 0 });
    try {
      const seen = [0, 0, 0];
      const loops = seen.map((_, k) =>
        failureOf(async () => {
          for await (const _ of client.serverStream('Echo', 'ticks', { everyMs: 5 })) seen[k]!++;
        }),
      );
      await until(() => seen.every((n) => n > 3));
      const killedAt = Date.now();
      await child.kill('SIGKILL');
      const errors = await Promise.all(loops);
      expect(errors.map((e) => e.code)).toEqual(['UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE']);
      expect(errors[0]).toBeInstanceOf(RpcError);
      expect(Date.now() - killedAt).toBeLessThan(3_000);
    } finally {
      await client.close();
      await child.kill();
    }
  });

  it('a client killed mid-stream frees the server side: its signal fires (UNAVAILABLE) and its finally runs', async () => {
    const { server, service, address } = await serve();
    const child = await startStreamingClient(address);
    try {
      expect(server.inflightCount).toBe(1);
      await child.kill('SIGKILL');
      await until(() => service.finallies.includes('killed-client'));
      expect(service.aborts.get('killed-client')).toBe('UNAVAILABLE');
      await until(() => server.inflightCount === 0);
    } finally {
      await child.kill();
      await server.close();
    }
  });

  it('GOAWAY lets open streams finish, while new calls go elsewhere or fail', async () => {
    const { server, address } = await serve();
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Streams: [address] }) });
    try {
      const received: number[] = [];
      const loop = (async () => {
        for await (const message of client.serverStream<{ i: number }>('Streams', 'ticks', { tag: 'drain', n: 30, everyMs: 10 })) received.push(message.i);
      })();
      await until(() => received.length > 3);
      const closing = server.close();
      await loop;
      await closing;
      expect(received).toEqual(Array.from({ length: 30 }, (_, i) => i));
      const late = await failureOf(() => client.clientStream('Streams', 'sum', [{ n: 1 }]));
      expect(late.code).toBe('UNAVAILABLE');
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('a peer that sends beyond its credit gets the stream ended with RESOURCE_EXHAUSTED, nothing buffered past the window', async () => {
    const { server, service, address } = await serve();
    const peer = await RawPeer.connect(portOf(address));
    try {
      peer.write(encodeFrame({ kind: FrameKind.REQUEST, id: 1, service: 'Streams', method: 'hold', codec: 'json', stream: StreamKind.CLIENT }));
      // 400 messages of ~1 KiB, never waiting for a WINDOW: 400 KiB against a 256 KiB window.
      const message = Buffer.from(JSON.stringify({ n: 1, pad: 'p'.repeat(1_000) }));
      for (let i = 0; i < 400; i++) peer.write(encodeFrame({ kind: FrameKind.MESSAGE, id: 1 }, message));
      await until(() => peer.frames.some((f) => f.kind === FrameKind.END));
      const end = peer.frames.find((f) => f.kind === FrameKind.END)!;
      expect(end.status).toBe(8); // RESOURCE_EXHAUSTED
      expect(end.message).toContain(`${DEFAULT_STREAM_WINDOW}-byte window`);
      await until(() => server.inflightCount === 0);
      void service;
    } finally {
      peer.socket.destroy();
      await server.close();
    }
  });

  it('refuses a stream beyond maxConcurrentStreams on one connection, before its handler, and takes one again once a stream ends', async () => {
    const { server, service, address } = await serve({ maxConcurrentStreams: 2 });
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Streams: [address] }), logger: silentLogger });
    try {
      const open = ['a', 'b'].map((tag) => client.serverStream<{ i: number }>('Streams', 'ticks', { tag, everyMs: 5 })[Symbol.asyncIterator]());
      await Promise.all(open.map((it) => it.next()));
      const refused = await failureOf(async () => {
        for await (const _ of client.serverStream('Streams', 'ticks', { tag: 'c' })) break;
      });
      expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused', message: expect.stringContaining('maxConcurrentStreams') });
      expect(service.aborts.has('c') || service.finallies.includes('c')).toBe(false); // its handler never ran
      await open[0]!.return!();
      await until(() => service.finallies.includes('a'));
      const again = client.serverStream<{ i: number }>('Streams', 'ticks', { tag: 'd', n: 2, everyMs: 1 });
      const seen: number[] = [];
      for await (const tick of again) seen.push(tick.i);
      expect(seen).toEqual([0, 1]);
      await open[1]!.return!();
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('a frame kind this version does not know is answered with UNIMPLEMENTED for its id', async () => {
    const { server, address } = await serve();
    const peer = await RawPeer.connect(portOf(address));
    try {
      peer.write(encodeFrame({ kind: 42 as FrameKind, id: 7 }));
      await until(() => peer.frames.length > 0);
      expect(peer.frames[0]).toMatchObject({ kind: FrameKind.RESPONSE, id: 7, status: 12, message: expect.stringContaining('frame kind 42') });
    } finally {
      peer.socket.destroy();
      await server.close();
    }
  });

  it('a client answers a frame kind it does not know, for a call, by failing it with UNIMPLEMENTED and a CANCEL', async () => {
    // A server from a newer version, answering each request with kind 42.
    const received: number[] = [];
    const sockets: net.Socket[] = [];
    const raw = net.createServer((socket) => {
      sockets.push(socket);
      const decoder = new FrameDecoder();
      socket.on('data', (chunk: Buffer) =>
        decoder.push(chunk, (frame) => {
          received.push(frame.kind);
          if (frame.kind === FrameKind.REQUEST) socket.write(encodeFrame({ kind: 42 as FrameKind, id: frame.id }));
        }),
      );
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const address = `tcp://127.0.0.1:${(raw.address() as net.AddressInfo).port}`;
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Streams: [address] }), timeout: 2_000 });
    try {
      expect(await failureOf(() => client.invoke('Streams', 'anything', {}))).toMatchObject({ code: 'UNIMPLEMENTED', message: expect.stringContaining('frame kind 42') });
      expect(await failureOf(async () => {
        for await (const _ of client.serverStream('Streams', 'ticks', {}));
      })).toMatchObject({ code: 'UNIMPLEMENTED' });
      await until(() => received.filter((k) => k === FrameKind.CANCEL).length === 2);
    } finally {
      await client.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => raw.close(resolve));
    }
  });

  it('a message too large for a frame fails the stream with RESOURCE_EXHAUSTED, either way', async () => {
    const { server, address } = await serve({ maxFrameSize: 100_000 });
    const client = new Client({ transport: tcp({ maxFrameSize: 100_000 }), registry: staticRegistry({ Streams: [address] }) });
    try {
      const sent = await failureOf(() => client.clientStream('Streams', 'sum', [{ n: 1, pad: 'q'.repeat(200_000) }]));
      expect(sent).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maximum frame size') });
      const answered = await failureOf(async () => {
        for await (const _ of client.serverStream('Streams', 'big', { bytes: 200_000 }));
      });
      expect(answered).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maximum frame size') });
      // The connection is fine afterwards.
      expect(await client.clientStream('Streams', 'sum', [{ n: 2 }, { n: 3 }])).toBe(5);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
