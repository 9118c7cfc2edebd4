import { monitorEventLoopDelay } from 'node:perf_hooks';
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Client, Method, Server, Service, inproc, silentLogger, staticRegistry, type ClientOptions, type ServerOptions } from '../src/index.js';
import { decompress } from '../src/codec/compression.js';
import type { ReplyTarget, RequestMessage, ResponseMessage } from '../src/transport/transport.js';
import { Compression } from '../src/wire/header.js';

// Compressed bodies inflate at most to maxDecompressedSize, off the event loop (issue 12, #4).

const MiB = 1024 * 1024;
// 128 MiB of zeros: about 130 KB compressed (the bomb was twice that).
const [gzipBomb, deflateBomb] = (() => {
  const zeros = Buffer.alloc(128 * MiB);
  return [gzipSync(zeros, { level: 9 }), deflateSync(zeros, { level: 9 })];
})();

@Service('Inflate')
class Inflate {
  @Method()
  async size(request: string): Promise<number> {
    return request.length;
  }

  @Method()
  async big(request: { bytes: number }): Promise<string> {
    return 'x'.repeat(request.bytes);
  }
}

async function rig(server: Partial<ServerOptions> = {}, client: Partial<ClientOptions> = {}) {
  const t = inproc();
  const s = new Server({ transport: t, logger: silentLogger, ...server }).register(new Inflate());
  const address = await s.listen('inproc://inflate');
  const c = new Client({ transport: t, registry: staticRegistry({ Inflate: [address] }), timeout: 20_000, ...client });
  return { server: s, client: c };
}

function dispatchRaw(server: Server, compression: Compression, body: Uint8Array): Promise<ResponseMessage> {
  return new Promise((resolve) => {
    const replyTo: ReplyTarget = { reply: (_id, response) => resolve(response) };
    const request: RequestMessage = { id: 1, service: 'Inflate', method: 'size', codec: 'json', compression, deadline: 0, metadata: undefined, body };
    server.dispatch(request, replyTo);
  });
}

describe('a decompression bomb sent to a server', () => {
  it('is refused with RESOURCE_EXHAUSTED, RSS stays bounded, and another call is answered meanwhile', async () => {
    const { server, client } = await rig();
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const rssBefore = process.memoryUsage.rss();
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
    const order: string[] = [];
    const bombs = [gzipBomb, deflateBomb, gzipBomb, deflateBomb].map((bomb, i) =>
      dispatchRaw(server, i % 2 === 0 ? Compression.GZIP : Compression.DEFLATE, bomb).then((r) => {
        order.push('bomb');
        return r;
      }),
    );
    const fine = client.invoke<number>('Inflate', 'size', 'hello').then((n) => {
      order.push('fine');
      return n;
    });
    const responses = await Promise.all(bombs);
    clearInterval(sampler);
    loop.disable();
    peak = Math.max(peak, process.memoryUsage.rss());
    expect(await fine).toBe(5);
    expect(order[0]).toBe('fine');
    for (const response of responses) {
      expect(response.status).toBe(8);
      expect(response.message).toMatch(/(gzip|deflate) body inflates to more than 4194304 bytes.*maxDecompressedSize/);
    }
    expect(peak - rssBefore).toBeLessThan(128 * MiB);
    expect(loop.max / 1e6).toBeLessThan(500);
    await server.close();
  });

  it('is refused under a smaller ServerOptions.maxDecompressedSize, exactly at the limit', async () => {
    const { server, client } = await rig({ maxDecompressedSize: 64 * 1024 }, { compression: { algorithm: 'gzip', threshold: 0 } });
    // A JSON string of n - 2 characters is n bytes of body.
    expect(await client.invoke('Inflate', 'size', 'x'.repeat(64 * 1024 - 2))).toBe(64 * 1024 - 2);
    await expect(client.invoke('Inflate', 'size', 'x'.repeat(64 * 1024 - 1))).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maxDecompressedSize (65536)') });
    await server.close();
  });
});

describe('a response that inflates past the client limit', () => {
  it('fails the call with RESOURCE_EXHAUSTED on the client', async () => {
    const { server, client } = await rig({ compression: { algorithm: 'gzip', threshold: 1024 } }, { maxDecompressedSize: 1 * MiB });
    await expect(client.invoke('Inflate', 'big', { bytes: 8 * MiB })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maxDecompressedSize (1048576)') });
    expect(await client.invoke<string>('Inflate', 'big', { bytes: MiB - 2 })).toHaveLength(MiB - 2);
    await server.close();
  });

  it('defaults to 4 MiB', async () => {
    const { server, client } = await rig({ compression: { algorithm: 'deflate', threshold: 1024 } });
    await expect(client.invoke('Inflate', 'big', { bytes: 4 * MiB - 1 })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('4194304') });
    expect(await client.invoke<string>('Inflate', 'big', { bytes: 4 * MiB - 2 })).toHaveLength(4 * MiB - 2);
    await server.close();
  });
});

describe('decompress', () => {
  it('stops at the limit and tells a bomb from a corrupt body', async () => {
    await expect(decompress(Compression.GZIP, gzipBomb, 1024)).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    await expect(decompress(Compression.GZIP, Buffer.from('not gzip'), 1024)).rejects.toMatchObject({ code: 'DATA_LOSS' });
    await expect(decompress(7 as Compression, Buffer.from('x'), 1024)).rejects.toMatchObject({ code: 'DATA_LOSS', message: expect.stringContaining('compression #7') });
    expect(Buffer.from(await decompress(Compression.DEFLATE, deflateSync(Buffer.from('abc')), 3)).toString()).toBe('abc');
  });
});
