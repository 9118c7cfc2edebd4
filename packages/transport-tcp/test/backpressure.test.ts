import * as net from 'node:net';
import { expect, it } from 'vitest';
import { Client, staticRegistry, type RpcError } from '@svc/core';
import { tcp } from '../src/index.js';

it('refuses new calls with RESOURCE_EXHAUSTED while a server that stops reading lets the send buffer fill', async () => {
  const sockets: net.Socket[] = [];
  const stalled = net.createServer((socket) => {
    socket.pause(); // accepts, never reads
    sockets.push(socket);
  });
  await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
  const port = (stalled.address() as net.AddressInfo).port;
  const client = new Client({ transport: tcp({ maxSendBuffer: 1024 * 1024 }), registry: staticRegistry({ Echo: [`tcp://127.0.0.1:${port}`] }), timeout: 3_000 });
  const blob = 'x'.repeat(16 * 1024);
  const outcomes: string[] = [];
  // Bounded: at most 4,000 calls of 16 KiB (64 MiB), in batches so the socket gets to fill.
  for (let batch = 0; batch < 40 && !outcomes.includes('RESOURCE_EXHAUSTED'); batch++) {
    const calls = Array.from({ length: 100 }, () => client.invoke('Echo', 'echo', { blob }).then(() => 'ok', (e: RpcError) => (e.code === 'RESOURCE_EXHAUSTED' ? e.code : `${e.code}`)));
    const settled = await Promise.race([Promise.all(calls), new Promise<string[]>((r) => setTimeout(() => r([]), 50))]);
    outcomes.push(...settled);
  }
  expect(outcomes).toContain('RESOURCE_EXHAUSTED');
  const error = (await client.invoke('Echo', 'echo', { blob }).catch((e: unknown) => e)) as RpcError;
  expect(error.code).toBe('RESOURCE_EXHAUSTED');
  expect(error.message).toMatch(/bytes waiting to be sent \(limit 1048576\)/);
  await client.close();
  for (const s of sockets) s.destroy();
  stalled.close();
});
