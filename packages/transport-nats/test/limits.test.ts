import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { Client, Method, Server, Service, silentLogger, staticRegistry, type CallContext } from '@svc/core';
import { nats } from '../src/index.js';
import { NatsServerProcess } from '../src/testing/index.js';

@Service('Blob')
class Blob {
  @Method()
  async make(args: { size: number }): Promise<string> {
    return 'x'.repeat(args.size);
  }
  @Method()
  async take(args: { data: string }): Promise<number> {
    return args.data.length;
  }
  @Method()
  async tagged(args: { size: number; tag: number }, ctx: CallContext): Promise<string> {
    ctx.sendMetadata({ tag: 't'.repeat(args.tag) });
    return 'x'.repeat(args.size);
  }
}

describe("bodies above the NATS server's max_payload", () => {
  const dir = mkdtempSync(join(tmpdir(), 'svc-nats-limits-'));
  let natsd: NatsServerProcess;
  let server: Server;
  let client: Client;

  beforeAll(async () => {
    const conf = join(dir, 'limits.conf');
    writeFileSync(conf, 'max_payload: 4096\n');
    natsd = await NatsServerProcess.start(['-c', conf]);
    server = new Server({ transport: nats(), logger: silentLogger }).register(new Blob());
    await server.listen(natsd.url);
    client = new Client({ transport: nats(), registry: staticRegistry({ Blob: [natsd.url] }), timeout: 3_000 });
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
    await natsd?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a request that is too large with RESOURCE_EXHAUSTED, before sending it', async () => {
    expect(await client.invoke('Blob', 'take', { data: 'y'.repeat(1_000) })).toBe(1_000);
    await expect(client.invoke('Blob', 'take', { data: 'y'.repeat(10_000) })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('4096') });
  });

  it('splits a burst of calls into messages that each fit in max_payload, both ways', async () => {
    const sizes = await Promise.all(Array.from({ length: 40 }, (_, i) => client.invoke<number>('Blob', 'take', { data: 'z'.repeat(900 + i) })));
    expect(sizes).toEqual(Array.from({ length: 40 }, (_, i) => 900 + i));
    const made = await Promise.all(Array.from({ length: 40 }, (_, i) => client.invoke<string>('Blob', 'make', { size: 900 + i })));
    expect(made.map((m) => m.length)).toEqual(sizes);
  });

  it('answers RESOURCE_EXHAUSTED when the response is too large', async () => {
    expect((await client.invoke<string>('Blob', 'make', { size: 1_000 })).length).toBe(1_000);
    await expect(client.invoke('Blob', 'make', { size: 10_000 })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('max_payload') });
    // The connection survived both.
    expect(await client.invoke('Blob', 'take', { data: 'ok' })).toBe(2);
  });

  it('answers a plain request whose answer fits only without its headers with RESOURCE_EXHAUSTED, rather than not at all', async () => {
    const nc = await connect({ servers: natsd.url });
    try {
      const fits = await nc.request('svc.rpc.Blob.tagged', JSON.stringify({ size: 1_000, tag: 100 }), { timeout: 2_000 });
      expect(fits.headers?.get('Svc-Metadata')).toBe(JSON.stringify({ tag: 't'.repeat(100) }));
      // 3,000 bytes of body and 3,000 of metadata: each fits in 4,096, not both.
      const reply = await nc.request('svc.rpc.Blob.tagged', JSON.stringify({ size: 3_000, tag: 3_000 }), { timeout: 2_000 });
      expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('8');
      expect(reply.headers?.get('Nats-Service-Error')).toContain('max_payload');
      // Framed, the same answer is refused the same way (its frame is sized with its metadata).
      await expect(client.invoke('Blob', 'tagged', { size: 3_000, tag: 3_000 })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('max_payload') });
    } finally {
      await nc.close();
    }
  });
});
