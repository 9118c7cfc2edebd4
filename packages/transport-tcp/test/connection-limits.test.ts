import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Server, silentLogger, staticRegistry, type RpcError } from '@svc/core';
import { encodeFrame, FrameKind } from '@svc/core/transport';
import { tcp } from '../src/index.js';
import type { TcpListener } from '../src/tcp-listener.js';
import { Counter } from './counter-service.js';
import { Echo, portOf, until } from './helpers.js';
import { RawPeer, request } from './raw-peer.js';

// Issue 12, item 6: maxConnections and a cap on calls in flight per connection.
describe('maxConnections', () => {
  let server: Server;
  let listener: TcpListener;
  let port: number;

  beforeAll(async () => {
    const transport = tcp({ maxConnections: 3 });
    server = new Server({ transport, logger: silentLogger }).register(new Echo());
    listener = (await transport.listen('tcp://127.0.0.1:0', server)) as TcpListener;
    port = portOf(listener.address);
  });
  afterAll(() => listener.close());

  it('tells one connection too many why, closes it, and keeps the others working', async () => {
    const first = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [listener.address] }) });
    expect(await first.invoke('Echo', 'echo', { n: 1 })).toEqual({ n: 1 });
    const held = [await RawPeer.connect(port), await RawPeer.connect(port)];
    await until(() => listener.stats.connections === 3);

    const extra = await RawPeer.connect(port);
    extra.write(request(1, 'Echo', 'echo', { extra: true }));
    expect(await extra.closedWithin(2_000)).toBe(true);
    expect(extra.goaway).toMatchObject({ status: 8, message: expect.stringMatching(/already has 3 connections \(maxConnections\)/) });
    expect(extra.frames.filter((f) => f.kind === FrameKind.RESPONSE)).toEqual([]);

    // An @svc client refused this way fails its call with the server's reason.
    const late = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [listener.address] }) });
    const error = (await late.invoke('Echo', 'echo', {}).catch((e: unknown) => e)) as RpcError;
    expect(error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/maxConnections/) });

    // The three accepted connections are untouched.
    expect(await first.invoke('Echo', 'echo', { n: 2 })).toEqual({ n: 2 });
    expect(held.every((p) => p.closedAt === 0)).toBe(true);
    expect(listener.stats.connections).toBe(3);

    // Room again once one leaves.
    held[0]!.destroy();
    await until(() => listener.stats.connections === 2);
    const again = await RawPeer.connect(port);
    again.write(request(9, 'Echo', 'echo', { again: true }));
    await until(() => again.frames.some((f) => f.kind === FrameKind.RESPONSE));
    expect(again.goaway).toBeUndefined();
    for (const p of [...held, again]) p.destroy();
    await Promise.all([first.close(), late.close()]);
  });
});

describe('maxConcurrentCalls', () => {
  it('refuses a call beyond the cap with RESOURCE_EXHAUSTED without running it, and keeps the connection', async () => {
    const counter = new Counter();
    const transport = tcp({ maxConcurrentCalls: 5 });
    const server = new Server({ transport, logger: silentLogger }).register(counter);
    const listener = (await transport.listen('tcp://127.0.0.1:0', server)) as TcpListener;
    const peer = await RawPeer.connect(portOf(listener.address));
    const frames = [];
    for (let id = 1; id <= 8; id++) frames.push(request(id, 'Counter', 'hold', { ms: 300 }));
    peer.write(...frames);
    // The three beyond the cap are answered at once; the five within it after 300 ms.
    await until(() => peer.frames.filter((f) => f.kind === FrameKind.RESPONSE).length === 3, 2_000);
    const refused = peer.frames.filter((f) => f.kind === FrameKind.RESPONSE);
    expect(refused.map((f) => f.id).sort()).toEqual([6, 7, 8]);
    for (const f of refused) expect(f).toMatchObject({ status: 8, message: expect.stringMatching(/already has 5 calls in flight \(maxConcurrentCalls\).*did not run/) });
    expect(counter.seen.length).toBe(5);

    await until(() => peer.frames.filter((f) => f.kind === FrameKind.RESPONSE).length === 8, 3_000);
    expect(peer.frames.filter((f) => f.kind === FrameKind.RESPONSE && f.id <= 5).every((f) => (f.status ?? 0) === 0)).toBe(true);
    // Same connection, room again.
    peer.write(request(9, 'Counter', 'hit', { after: true }));
    await until(() => peer.frames.some((f) => f.id === 9), 2_000);
    expect(peer.frames.find((f) => f.id === 9)?.status ?? 0).toBe(0);
    expect(peer.closedAt).toBe(0);
    expect(peer.goaway).toBeUndefined();
    peer.destroy();
    await listener.close();
  });

  it('lets the default take 1,000 calls in flight on one connection (the benchmark C = 1000)', async () => {
    const counter = new Counter();
    const server = new Server({ transport: tcp(), logger: silentLogger }).register(counter);
    const address = await server.listen('tcp://127.0.0.1:0');
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Counter: [address] }), timeout: 10_000 });
    const results = await Promise.all(Array.from({ length: 1_000 }, (_, i) => client.invoke('Counter', 'hold', { ms: 200 + (i % 2) })));
    expect(results).toHaveLength(1_000);
    expect(counter.seen.length).toBe(1_000);
    await client.close();
    await server.close();
  });
});

describe('metadata caps', () => {
  it('passes tcp({ maxMetadataEntries, maxMetadataBytes }) to the decoder: the call is refused, the connection stays', async () => {
    const counter = new Counter();
    const transport = tcp({ maxMetadataEntries: 2, maxMetadataBytes: 64 });
    const server = new Server({ transport, logger: silentLogger }).register(counter);
    const listener = (await transport.listen('tcp://127.0.0.1:0', server)) as TcpListener;
    const peer = await RawPeer.connect(portOf(listener.address));
    const body = Buffer.from('{}');
    peer.write(
      encodeFrame({ kind: FrameKind.REQUEST, id: 1, service: 'Counter', method: 'hit', codec: 'json', metadata: { a: '1', b: '2', c: '3' } }, body),
      encodeFrame({ kind: FrameKind.REQUEST, id: 2, service: 'Counter', method: 'hit', codec: 'json', metadata: { big: 'x'.repeat(100) } }, body),
      encodeFrame({ kind: FrameKind.REQUEST, id: 3, service: 'Counter', method: 'hit', codec: 'json', metadata: { a: '1', b: '2' } }, body),
    );
    await until(() => peer.frames.filter((f) => f.kind === FrameKind.RESPONSE).length === 3, 2_000);
    const byId = new Map(peer.frames.map((f) => [f.id, f]));
    expect(byId.get(1)).toMatchObject({ status: 8, message: expect.stringMatching(/3 entries, more than maxMetadataEntries \(2\)/) });
    expect(byId.get(2)).toMatchObject({ status: 8, message: expect.stringMatching(/more than maxMetadataBytes \(64\)/) });
    expect(byId.get(3)?.status ?? 0).toBe(0);
    expect(counter.seen.length).toBe(1);
    expect(peer.goaway).toBeUndefined();
    peer.destroy();
    await listener.close();
  });
});
