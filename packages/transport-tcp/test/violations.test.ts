import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Server, silentLogger, staticRegistry } from '@svc/core';
import { encodeFrame, FrameKind } from '@svc/core/transport';
import { tcp } from '../src/index.js';
import { Counter } from './counter-service.js';
import { Echo, portOf, until } from './helpers.js';
import { RawPeer, request } from './raw-peer.js';

// Issue 12, item 3: after a protocol violation nothing more from that connection reaches a handler.
describe('after a protocol violation', () => {
  let server: Server;
  let counter: Counter;
  let port: number;
  let client: Client;

  beforeAll(async () => {
    counter = new Counter();
    server = new Server({ transport: tcp(), logger: silentLogger }).register(counter).register(new Echo());
    const address = await server.listen('tcp://127.0.0.1:0');
    port = portOf(address);
    client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [address] }) });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('does not run a request that came in the same read, behind the bad frame', async () => {
    const before = counter.seen.length;
    const peer = await RawPeer.connect(port);
    // One write: a request without service and method (a violation), then a valid one.
    peer.write(encodeFrame({ kind: FrameKind.REQUEST, id: 1 }), request(2, 'Counter', 'hit', { behind: true }));
    expect(await peer.closedWithin(2_000)).toBe(true);
    expect(peer.goaway?.message).toMatch(/needs an id, a service and a method/);
    expect(peer.frames.filter((f) => f.kind === FrameKind.RESPONSE)).toEqual([]);
    expect(counter.seen.slice(before)).toEqual([]);
  });

  it('does not run a request behind a duplicate id in the same read', async () => {
    const before = counter.seen.length;
    const peer = await RawPeer.connect(port);
    peer.write(request(5, 'Counter', 'hold', { ms: 2_000 }), request(5, 'Counter', 'hit', { dup: true }), request(6, 'Counter', 'hit', { behind: true }));
    expect(await peer.closedWithin(2_000)).toBe(true);
    expect(peer.goaway?.message).toMatch(/request id 5 is already in flight/);
    // The first request may have reached its handler before the violation was parsed; nothing after it did.
    expect(counter.seen.slice(before).filter((r) => !(typeof r === 'object' && r !== null && 'ms' in r))).toEqual([]);
  });

  it('does not run requests sent later by a peer that keeps its side open, and closes it at once', async () => {
    const before = counter.seen.length;
    const peer = await RawPeer.connect(port, { allowHalfOpen: true });
    const started = Date.now();
    peer.write(encodeFrame({ kind: FrameKind.REQUEST, id: 1 }));
    await until(() => peer.goaway !== undefined || peer.closedAt !== 0, 2_000);
    // Ended once the GOAWAY had left, not after a fixed delay.
    expect(peer.closedAt - started).toBeLessThan(500);
    // The peer goes on as if nothing happened: on a half-open socket, these would be read and run.
    for (let id = 2; id < 12; id++) peer.write(request(id, 'Counter', 'hit', { later: id }));
    // The server's socket is gone, so they are refused with a reset; once that is seen, none can run any more.
    expect(await peer.fullyClosedWithin(2_000)).toBe(true);
    expect(counter.seen.slice(before)).toEqual([]);
    expect(await client.invoke('Echo', 'echo', { still: 'serving' })).toEqual({ still: 'serving' });
  });

  it('stops at a frame the decoder refuses, even with valid requests after it in the same read', async () => {
    const before = counter.seen.length;
    const bad = encodeFrame({ kind: FrameKind.PING, id: 0 });
    bad[2] = 9; // an unknown wire version
    const peer = await RawPeer.connect(port);
    peer.write(request(1, 'Counter', 'hit', { first: true }), bad, request(2, 'Counter', 'hit', { behind: true }));
    expect(await peer.closedWithin(2_000)).toBe(true);
    expect(peer.goaway?.message).toMatch(/wire version 9/);
    expect(counter.seen.slice(before).filter((r) => (r as { behind?: boolean }).behind)).toEqual([]);
  });
});
