import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, RpcError, staticRegistry } from '@svc/core';
import { tcp } from '../src/index.js';
import { startChildServer, until, type ChildServer } from './helpers.js';

describe('reconnect', () => {
  let child: ChildServer | undefined;
  afterEach(async () => {
    await child?.kill();
    child = undefined;
  });

  it('survives a server killed and restarted: calls succeed again on the same client', async () => {
    child = await startChildServer('tcp://127.0.0.1:0');
    const address = child.address;
    const client = new Client({
      transport: tcp({ reconnect: { initialDelay: 50, maxDelay: 300 } }),
      registry: staticRegistry({ Echo: [address] }),
      timeout: 2_000,
    });
    let firstPid = '';
    expect(await client.invoke('Echo', 'echo', { n: 1 }, { onMetadata: (m) => (firstPid = m.pid!) })).toEqual({ n: 1 });

    // Traffic in flight while the server dies: every call settles, with UNAVAILABLE.
    const inflight = Array.from({ length: 200 }, (_, i) => client.invoke('Echo', 'echo', { i }).then(() => 'ok', (e: RpcError) => e.code));
    await child.kill('SIGKILL');
    const outcomes = await Promise.all(inflight);
    for (const outcome of outcomes) expect(['ok', 'UNAVAILABLE']).toContain(outcome);

    // While it is down, calls fail fast with UNAVAILABLE rather than hanging.
    const started = Date.now();
    await expect(client.invoke('Echo', 'echo', {})).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(1_000);

    child = await startChildServer(address);
    let pid = '';
    await until(async () => {
      try {
        await client.invoke('Echo', 'echo', { n: 2 }, { onMetadata: (m) => (pid = m.pid!) });
        return true;
      } catch (error) {
        expect((error as RpcError).code).toBe('UNAVAILABLE');
        return false;
      }
    }, 10_000);
    expect(pid).not.toBe(firstPid);
    expect(await client.invoke('Echo', 'echo', { n: 3 })).toEqual({ n: 3 });
    await client.close();
  });

  it('fails with UNAVAILABLE when nothing listens', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [`127.0.0.1:${port}`] }) });
    const error = (await client.invoke('Echo', 'echo', {}).catch((e: unknown) => e)) as RpcError;
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toContain('ECONNREFUSED');
    await client.close();
  });

  it('gives up a dial after the dial timeout', async () => {
    // A TCP server that never answers the TLS handshake.
    const mute = net.createServer(() => {});
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    const port = (mute.address() as net.AddressInfo).port;
    const client = new Client({ transport: tcp({ dialTimeout: 200 }), registry: staticRegistry({ Echo: [`tls://127.0.0.1:${port}`] }), timeout: 5_000 });
    const started = Date.now();
    const error = (await client.invoke('Echo', 'echo', {}).catch((e: unknown) => e)) as RpcError;
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toContain('dial timeout');
    expect(Date.now() - started).toBeLessThan(2_000);
    await client.close();
    mute.close();
  });
});
