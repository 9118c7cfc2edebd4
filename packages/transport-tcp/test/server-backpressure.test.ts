import { expect, it } from 'vitest';
import { Client, Server, silentLogger, staticRegistry } from '@svc/core';
import { tcp } from '../src/index.js';
import type { TcpListener } from '../src/tcp-listener.js';
import { Counter } from './counter-service.js';
import { Echo, portOf, sleep, until } from './helpers.js';
import { RawPeer, request } from './raw-peer.js';

// Issue 12, item 5: a peer that sends requests and never reads must not make the server queue
// answers without bound, and must not hold the connection forever.
it('stops reading a peer that does not read its answers, closes it when nothing moves, and serves everyone else', async () => {
  const maxReplyBuffer = 1024 * 1024;
  const stallTimeout = 500;
  const maxConcurrentCalls = 64;
  const answerBytes = 64 * 1024;
  const transport = tcp({ maxReplyBuffer, stallTimeout, maxConcurrentCalls });
  const counter = new Counter();
  const server = new Server({ transport, logger: silentLogger }).register(counter).register(new Echo());
  const listener = (await transport.listen('tcp://127.0.0.1:0', server)) as TcpListener;
  const client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [listener.address] }), timeout: 5_000 });
  expect(await client.invoke('Echo', 'echo', { warm: 1 })).toEqual({ warm: 1 });

  const rssBefore = process.memoryUsage().rss;
  let maxUnsent = 0;
  const sampler = setInterval(() => (maxUnsent = Math.max(maxUnsent, listener.stats.unsentBytes)), 5);

  // The good client keeps calling all along; each call's latency is recorded.
  let flooding = true;
  const latencies: number[] = [];
  const good = (async () => {
    for (let i = 0; flooding && i < 2_000; i++) {
      const started = Date.now();
      expect(await client.invoke('Echo', 'echo', { i })).toEqual({ i });
      latencies.push(Date.now() - started);
      await sleep(5);
    }
  })();

  // The flood: small requests for 64 KiB answers, never reading; at most 5,000 (320 MiB of answers).
  const flooder = await RawPeer.connect(portOf(listener.address), { read: false });
  const started = Date.now();
  let sent = 0;
  while (sent < 5_000 && listener.stats.connections === 2 && Date.now() - started < 5_000) {
    if (flooder.socket.writableLength > 1024 * 1024) {
      await sleep(5); // its own kernel buffer is full: the server has stopped reading it
      continue;
    }
    const batch = [];
    for (let i = 0; i < 100; i++) batch.push(request(++sent, 'Counter', 'blob', { bytes: answerBytes }));
    flooder.write(...batch);
    await sleep(0);
  }
  // A peer that does not read never sees the close itself: the server's count of connections tells.
  const closed = await until(() => listener.stats.connections === 1, 3_000).then(() => true, () => false);
  const closedAfter = Date.now() - started;
  flooding = false;
  await good;
  clearInterval(sampler);
  const rssGrowth = process.memoryUsage().rss - rssBefore;

  expect(closed).toBe(true);
  // Closed within the stall limit (plus the timer's granularity) of the flood, and far fewer calls ran than were sent.
  expect(closedAfter).toBeLessThan(3_000);
  expect(counter.seen.length).toBeLessThan(sent / 4);
  // Queued: the buffer, plus the answers of the calls already in flight when reading stopped.
  expect(maxUnsent).toBeLessThan(maxReplyBuffer + maxConcurrentCalls * (answerBytes + 1024) + 1024 * 1024);
  expect(rssGrowth).toBeLessThan(150 * 1024 * 1024);
  expect(latencies.length).toBeGreaterThan(10);
  expect(Math.max(...latencies)).toBeLessThan(1_000);
  expect(await client.invoke('Echo', 'echo', { after: true })).toEqual({ after: true });
  await client.close();
  flooder.destroy();
  await listener.close();
}, 20_000);
