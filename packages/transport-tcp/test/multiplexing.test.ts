import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Server, silentLogger, staticRegistry } from '@svc/core';
import { FrameDecoder, FrameKind } from '@svc/core/transport';
import { tcp } from '../src/index.js';
import { Echo } from './helpers.js';

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
});
