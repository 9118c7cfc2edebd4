import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client, Server, silentLogger, staticRegistry, type RpcError } from '@svc/core';
import { describeTransportConformance } from '@svc/core/testing';
import { tcp } from '../src/index.js';
import { Echo } from './helpers.js';

const key = readFileSync(new URL('./fixtures/localhost-key.pem', import.meta.url));
const cert = readFileSync(new URL('./fixtures/localhost-cert.pem', import.meta.url));
const tlsTransport = () => tcp({ tls: { server: { key, cert }, client: { ca: cert, servername: 'localhost' } } });

describeTransportConformance('tls', async () => ({ transport: tlsTransport(), listenAddress: 'tls://127.0.0.1:0' }));

describeTransportConformance('unix socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'svc-unix-'));
  return { transport: tcp(), listenAddress: `unix://${join(dir, 'svc.sock')}`, teardown: async () => rmSync(dir, { recursive: true, force: true }) };
});

describe('tls', () => {
  it('refuses a server whose certificate the client does not trust', async () => {
    const server = new Server({ transport: tlsTransport(), logger: silentLogger }).register(new Echo());
    const address = await server.listen('tls://127.0.0.1:0');
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [address] }) });
    const error = (await client.invoke('Echo', 'echo', {}).catch((e: unknown) => e)) as RpcError;
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/self[- ]signed/i);
    await client.close();
    await server.close();
  });

  it('tells how to configure a tls listener without a certificate', async () => {
    const server = new Server({ transport: tcp(), logger: silentLogger }).register(new Echo());
    await expect(server.listen('tls://127.0.0.1:0')).rejects.toThrow(/needs tcp\(\{ tls: \{ server: \{ key, cert \} \} \}\)/);
    await server.close();
  });
});
