import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Server, silentLogger, staticRegistry } from '@svc/core';
import { FrameDecoder, FrameKind } from '@svc/core/transport';
import { tcp } from '../src/index.js';
import { Echo, sleep, until } from './helpers.js';

describe('multiplexing over one connection', () => {
  let server: Server;
  let client: Client;

  beforeAll(async () => {
    server = new Server({ transport: tcp(), logger: silentLogger }).register(new Echo());
    const address = await server.listen('tcp://127.0.0.1:0');
    client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [address] }) });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('answers 10,000 calls in flight at once, each with its own result', async () => {
    const calls = Array.from({ length: 10_000 }, (_, i) => client.invoke<{ i: number; s: string }>('Echo', 'echo', { i, s: `call-${i}` }));
    const results = await Promise.all(calls);
    for (let i = 0; i < results.length; i++) expect(results[i]).toEqual({ i, s: `call-${i}` });
  });

  it('answers out of order: a fast call overtakes a slow one on the same connection', async () => {
    const order: string[] = [];
    const slow = client.invoke('Echo', 'slow', { ms: 200 }).then(() => order.push('slow'));
    const fast = client.invoke('Echo', 'slow', { ms: 10 }).then(() => order.push('fast'));
    await Promise.all([slow, fast]);
    expect(order).toEqual(['fast', 'slow']);
  });
});

describe('write coalescing', () => {
  it('sends a burst of 1,000 calls in a handful of socket writes', async () => {
    let chunks = 0;
    let requests = 0;
    const decoder = new FrameDecoder();
    const raw = net.createServer((socket) => {
      socket.on('data', (chunk) => {
        chunks++;
        decoder.push(chunk, (frame) => {
          if (frame.kind === FrameKind.REQUEST) requests++;
        });
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const port = (raw.address() as net.AddressInfo).port;
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [`tcp://127.0.0.1:${port}`] }), timeout: 2_000 });
    const calls = Array.from({ length: 1_000 }, (_, i) => client.invoke('Echo', 'echo', { i }).catch(() => undefined));
    const end = Date.now() + 5_000;
    while (requests < 1_000 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(requests).toBe(1_000);
    expect(chunks).toBeLessThan(30);
    await client.close();
    await Promise.all(calls);
    raw.close();
  });

  it('sends a larger burst in writes of writeBatchBytes, so the peer can start early', async () => {
    const sizes: number[] = [];
    const { port, stop } = await watchWrites((chunk) => sizes.push(chunk.length));
    try {
      for (const [writeBatchBytes, expectWrites] of [
        [Infinity, (n: number) => n === 1],
        [2_048, (n: number) => n >= 20],
      ] as const) {
        sizes.length = 0;
        const client = new Client({ transport: tcp({ writeBatchBytes }), registry: staticRegistry({ Echo: [`tcp://127.0.0.1:${port}`] }), timeout: 10_000 });
        await client.invoke('Echo', 'echo', {}, { timeout: 50 }).catch(() => undefined); // connected, then a fresh count
        sizes.length = 0;
        const calls = Array.from({ length: 1_000 }, (_, i) => client.invoke('Echo', 'echo', { i }).catch(() => undefined));
        await until(() => sizes.reduce((a, b) => a + b, 0) > 40_000); // 1,000 frames of about 46 bytes
        await sleep(100);
        expect(expectWrites(sizes.length), `${sizes.length} writes (${sizes.join(",")}) with writeBatchBytes ${writeBatchBytes}`).toBe(true);
        if (writeBatchBytes !== Infinity) for (const size of sizes.slice(0, -1)) expect(size).toBeLessThan(writeBatchBytes + 200);
        await client.close();
        await Promise.all(calls);
      }
    } finally {
      stop();
    }
  });

  it('lets a quiet connection drop its write arena: after a burst, single calls write from small buffers', async () => {
    const backing: number[] = [];
    const { port, stop } = await watchWrites((chunk) => backing.push(chunk.buffer.byteLength));
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [`tcp://127.0.0.1:${port}`] }), timeout: 10_000 });
    try {
      const burst = Array.from({ length: 2_000 }, (_, i) => client.invoke('Echo', 'echo', { i, pad: 'p'.repeat(40) }).catch(() => undefined));
      await until(() => backing.length > 0);
      await sleep(50);
      expect(Math.max(...backing)).toBeGreaterThanOrEqual(32 * 1024); // the burst had a large arena
      const quiet: Promise<unknown>[] = [];
      for (let i = 0; i < 3; i++) {
        quiet.push(client.invoke('Echo', 'echo', { quiet: i }).catch(() => undefined));
        await sleep(20);
      }
      // The first quiet tick still writes from the burst's arena and then lets it go.
      expect(backing.slice(-2).every((size) => size <= 8 * 1024)).toBe(true);
      await client.close();
      await Promise.all([...burst, ...quiet]);
    } finally {
      stop();
    }
  });

  it('answers every call whatever the batch size, down to a write per frame', async () => {
    const server = new Server({ transport: tcp({ writeBatchBytes: 0 }), logger: silentLogger }).register(new Echo());
    const address = await server.listen('tcp://127.0.0.1:0');
    const client = new Client({ transport: tcp({ writeBatchBytes: 700 }), registry: staticRegistry({ Echo: [address] }) });
    const results = await Promise.all(Array.from({ length: 3_000 }, (_, i) => client.invoke<{ i: number; pad: string }>('Echo', 'echo', { i, pad: 'x'.repeat(i % 500) })));
    for (let i = 0; i < results.length; i++) expect(results[i]).toEqual({ i, pad: 'x'.repeat(i % 500) });
    await client.close();
    await server.close();
  });
});

describe('large bodies', () => {
  it('keeps frames in order when large bodies go straight to the socket between small frames of the same tick', async () => {
    const server = new Server({ transport: tcp(), logger: silentLogger }).register(new Echo());
    const address = await server.listen('tcp://127.0.0.1:0');
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [address] }) });
    try {
      // Bodies from a few bytes to 64 KiB, around the 16 KiB above which a body is not copied into the arena.
      const size = (i: number): number => [0, 10, 16 * 1024 - 40, 16 * 1024, 16 * 1024 + 1, 64 * 1024][i % 6]!;
      const results = await Promise.all(Array.from({ length: 600 }, (_, i) => client.invoke<{ i: number; pad: string }>('Echo', 'echo', { i, pad: String.fromCharCode(97 + (i % 26)).repeat(size(i)) })));
      for (let i = 0; i < results.length; i++) expect(results[i]).toEqual({ i, pad: String.fromCharCode(97 + (i % 26)).repeat(size(i)) });
    } finally {
      await client.close();
      await server.close();
    }
  });
});

/**
 * A server that reads and never answers, and a watch on every socket write a client makes to it
 * (its `port`); `stop()` undoes the watch and closes the server.
 */
async function watchWrites(onWrite: (chunk: Buffer) => void): Promise<{ port: number; stop: () => void }> {
  const raw = net.createServer((socket) => socket.resume());
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  const port = (raw.address() as net.AddressInfo).port;
  const originalWrite = net.Socket.prototype.write;
  net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
    if (this.remotePort === port && Buffer.isBuffer(chunk)) onWrite(chunk);
    return (originalWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof originalWrite;
  return {
    port,
    stop: () => {
      net.Socket.prototype.write = originalWrite;
      raw.close();
    },
  };
}
