import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Method, Server, Service, silentLogger, staticRegistry } from '@svc/core';
import { nats } from '../src/index.js';
import { NatsServerProcess } from '../src/testing/index.js';

@Service('Echo')
class Echo {
  @Method()
  async echo(args: { i: number; pad: string }): Promise<{ i: number; pad: string }> {
    return args;
  }
}

describe('writeBatchBytes: how a burst leaves for the NATS server', () => {
  let natsd: NatsServerProcess;
  let server: Server;

  beforeAll(async () => {
    natsd = await NatsServerProcess.start();
    server = new Server({ transport: nats(), logger: silentLogger }).register(new Echo());
    await server.listen(natsd.url);
  });

  afterAll(async () => {
    await server?.close();
    await natsd?.dispose();
  });

  for (const [writeBatchBytes, expectWrites] of [
    [Infinity, (n: number) => n === 0],
    [4_096, (n: number) => n >= 10],
  ] as const) {
    it(`with ${writeBatchBytes}, ${writeBatchBytes === Infinity ? 'in one write at the end of the tick' : 'in writes while the burst is still being made'}`, async () => {
      // Two calls to a NATS message: about 2 KB each, so the writes' sizes show the threshold.
      const client = new Client({ transport: nats({ writeBatchBytes, callsPerMessage: 2 }), registry: staticRegistry({ Echo: [natsd.url] }), timeout: 10_000 });
      await client.invoke('Echo', 'echo', { i: -1, pad: '' }); // connected: the burst below starts in one tick
      // Only this client's code runs while the burst is made, so the writes seen then are its own.
      const sizes = await watchWrites(natsd.port, () => {
        const pad = 'p'.repeat(1_000);
        return Array.from({ length: 400 }, (_, i) => client.invoke<{ i: number; pad: string }>('Echo', 'echo', { i, pad }));
      });
      expect(expectWrites(sizes.during.length), `${sizes.during.length} writes during the burst (${sizes.during.join(',')})`).toBe(true);
      if (writeBatchBytes === Infinity) expect(sizes.after.length).toBe(1);
      else for (const size of sizes.during) expect(size >= writeBatchBytes && size < 3 * writeBatchBytes, `a write of ${size} bytes`).toBe(true);
      const results = await Promise.all(sizes.calls);
      results.forEach((r, i) => expect(r.i).toBe(i));
      await client.close();
    });
  }

  it('refuses a writeBatchBytes below 1', () => {
    expect(() => nats({ writeBatchBytes: 0 })).toThrow(/writeBatchBytes must be 1 or more/);
  });
});

/**
 * Runs `burst` and records the sizes of the socket writes to the NATS server made while it runs
 * (synchronously) and in the microtasks right after it.
 */
async function watchWrites<T>(natsPort: number, burst: () => T): Promise<{ calls: T; during: number[]; after: number[] }> {
  const during: number[] = [];
  const after: number[] = [];
  let seen: number[] | undefined = during;
  const originalWrite = net.Socket.prototype.write;
  net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
    if (seen !== undefined && this.remotePort === natsPort && chunk instanceof Uint8Array) seen.push(chunk.length);
    return (originalWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof originalWrite;
  try {
    const calls = burst();
    seen = after;
    await new Promise<void>((resolve) => setImmediate(resolve));
    return { calls, during, after };
  } finally {
    seen = undefined;
    net.Socket.prototype.write = originalWrite;
  }
}
