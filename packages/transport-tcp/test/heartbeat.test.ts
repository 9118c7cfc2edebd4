import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Client, Server, silentLogger, staticRegistry, type RpcError } from '@svc/core';
import { encodeFrame, FrameDecoder, FrameKind } from '@svc/core/transport';
import { tcp } from '../src/index.js';
import { Echo, Proxy, portOf, sleep } from './helpers.js';

const heartbeat = { interval: 50, timeout: 250 };

describe('heartbeat', () => {
  it('keeps an idle connection open', async () => {
    const server = new Server({ transport: tcp({ heartbeat }), logger: silentLogger }).register(new Echo());
    const proxy = await Proxy.start(portOf(await server.listen('tcp://127.0.0.1:0')));
    const client = new Client({ transport: tcp({ heartbeat }), registry: staticRegistry({ Echo: [proxy.address] }) });
    expect(await client.invoke('Echo', 'echo', { n: 1 })).toEqual({ n: 1 });
    await sleep(1_000); // four heartbeat timeouts of silence from the application
    expect(await client.invoke('Echo', 'echo', { n: 2 })).toEqual({ n: 2 });
    expect(proxy.connections).toBe(1);
    await client.close();
    await proxy.close();
    await server.close();
  });

  it('detects a dead server: the call in flight fails with UNAVAILABLE long before its deadline', async () => {
    // The server waits longer than the client: otherwise its own timeout may close the connection
    // first (through the proxy), and the client would see a close rather than its heartbeat fail.
    const server = new Server({ transport: tcp({ heartbeat: { interval: 50, timeout: 5_000 } }), logger: silentLogger }).register(new Echo());
    const proxy = await Proxy.start(portOf(await server.listen('tcp://127.0.0.1:0')));
    const client = new Client({ transport: tcp({ heartbeat }), registry: staticRegistry({ Echo: [proxy.address] }), timeout: 20_000 });
    await client.invoke('Echo', 'echo', {});
    proxy.blackHole = true; // the network eats everything; no socket closes
    const started = Date.now();
    const error = (await client.invoke('Echo', 'slow', { ms: 10_000 }).catch((e: unknown) => e)) as RpcError;
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toContain('heartbeat timeout');
    expect(Date.now() - started).toBeLessThan(3_000);
    await client.close();
    await proxy.close();
    await server.close({ drainTimeout: 100 });
  });

  it('pings an idle client, and drops a client that stops answering', async () => {
    const server = new Server({ transport: tcp({ heartbeat }), logger: silentLogger }).register(new Echo());
    const address = await server.listen('tcp://127.0.0.1:0');
    const socket = net.connect(portOf(address), '127.0.0.1');
    const decoder = new FrameDecoder();
    let pings = 0;
    let answer = true;
    socket.on('data', (chunk) =>
      decoder.push(chunk, (frame) => {
        if (frame.kind !== FrameKind.PING) return;
        pings++;
        if (answer) socket.write(encodeFrame({ kind: FrameKind.PONG, id: 0 }));
      }),
    );
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
    await sleep(600);
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(socket.destroyed).toBe(false);
    answer = false;
    const stopped = Date.now();
    const closedAt = await closed;
    // The server's own pings count as "sent", but nothing comes back: it closes after the timeout.
    expect(closedAt - stopped).toBeLessThan(2_000);
    await server.close();
  });
});
