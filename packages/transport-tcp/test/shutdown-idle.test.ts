import { describe, expect, it } from 'vitest';
import { Client, Server, silentLogger, staticRegistry, type RpcError } from '@svc/core';
import { FrameKind } from '@svc/core/transport';
import { tcp } from '../src/index.js';
import { Counter } from './counter-service.js';
import { portOf } from './helpers.js';
import { RawPeer, request } from './raw-peer.js';

async function startServer(): Promise<{ server: Server; counter: Counter; address: string }> {
  const counter = new Counter();
  const server = new Server({ transport: tcp(), logger: silentLogger, drainTimeout: 5_000 }).register(counter);
  const address = await server.listen('tcp://127.0.0.1:0');
  return { server, counter, address };
}

// Issue 12, item 7: server.close() must not wait for peers with nothing in flight to leave.
describe('server.close()', () => {
  it('closes an idle connection right after its GOAWAY, even when the peer never leaves', async () => {
    const { server, address } = await startServer();
    const peer = await RawPeer.connect(portOf(address), { allowHalfOpen: true });
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(500); // not the drain timeout (5 s)
    expect(await peer.closedWithin(1_000)).toBe(true);
    expect(peer.goaway).toMatchObject({ status: 14, message: expect.stringMatching(/shutting down.*did not run/) });
  });

  it('closes a busy connection right after its last answer', async () => {
    const { server, address } = await startServer();
    const peer = await RawPeer.connect(portOf(address), { allowHalfOpen: true });
    peer.write(request(1, 'Counter', 'hold', { ms: 300 }));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the call is in flight (bounded: it lasts 300 ms)
    const started = Date.now();
    await server.close();
    const took = Date.now() - started;
    expect(took).toBeGreaterThan(200);
    expect(took).toBeLessThan(1_000);
    expect(await peer.closedWithin(1_000)).toBe(true);
    // In order: the drain notice, the answer, then the final GOAWAY.
    expect(peer.frames.map((f) => [f.kind, f.id, f.status ?? 0])).toEqual([
      [FrameKind.GOAWAY, 0, 0],
      [FrameKind.RESPONSE, 1, 0],
      [FrameKind.GOAWAY, 0, 14],
    ]);
  });

  it('does not run a request that reaches an idle connection after its GOAWAY, and says so', async () => {
    const { server, counter, address } = await startServer();
    const peer = await RawPeer.connect(portOf(address), { allowHalfOpen: true });
    const closing = server.close();
    peer.write(request(1, 'Counter', 'hit', { late: true })); // sent before the peer read the GOAWAY
    await closing;
    expect(await peer.closedWithin(1_000)).toBe(true);
    expect(counter.seen).toEqual([]);
    expect(peer.goaway?.message).toMatch(/did not run/);
  });

  it('serves a call that crosses the GOAWAY or fails it with UNAVAILABLE saying it did not run, never losing it', async () => {
    const outcomes: string[] = [];
    let ran = 0;
    const delays: (() => Promise<unknown>)[] = [
      () => Promise.resolve(),
      () => new Promise((resolve) => setImmediate(resolve)),
      () => new Promise((resolve) => setImmediate(() => setImmediate(resolve))),
      () => new Promise((resolve) => setTimeout(resolve, 1)),
      () => new Promise((resolve) => setTimeout(resolve, 3)),
    ];
    // Bounded: 40 rounds, each racing one call against close().
    for (let round = 0; round < 40; round++) {
      const { server, counter, address } = await startServer();
      const client = new Client({ transport: tcp(), registry: staticRegistry({ Counter: [address] }), timeout: 3_000 });
      await client.invoke('Counter', 'hit', { warm: round });
      const call = client.invoke('Counter', 'hit', { round }).then(
        () => 'ok',
        (e: RpcError) => `${e.code}: ${e.message}`,
      );
      // From the same tick to a little later, so that the GOAWAY falls before and after the request.
      const closing = delays[round % delays.length]!().then(() => server.close());
      outcomes.push(await call);
      await closing;
      ran += counter.seen.length - 1;
      await client.close();
    }
    for (const outcome of outcomes) expect(outcome).toMatch(/^ok$|^UNAVAILABLE: .*did not run/);
    // "did not run" is true: the handler ran exactly for the calls that succeeded.
    expect(ran).toBe(outcomes.filter((o) => o === 'ok').length);
  });
});
