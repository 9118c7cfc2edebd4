/**
 * Several NATS servers are tried in the order given (nats.js shuffles them unless told not to):
 * a host lists its own cluster node first and connects there, the others are for reconnecting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Method, Server, Service, silentLogger, staticRegistry } from '@svc/core';
import { nats } from '../src/index.js';
import { NatsServerProcess } from '../src/testing/index.js';

@Service('Here')
class Here {
  @Method()
  async ping(): Promise<{ ok: true }> {
    return { ok: true };
  }
}

describe('the order of NATS servers', () => {
  // Two separate servers, not a cluster: a service reaches only the callers on its own server.
  let first: NatsServerProcess;
  let second: NatsServerProcess;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    [first, second] = await Promise.all([NatsServerProcess.start(), NatsServerProcess.start()]);
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await Promise.all([first?.dispose(), second?.dispose()]);
  });

  it('connects to the first server listed, every time', async () => {
    const caller = new Client({ transport: nats(), registry: staticRegistry({ Here: [first.url] }) });
    closers.push(() => caller.close());
    // Shuffled, six listeners would all land on the first server once in 64 runs.
    for (let i = 0; i < 6; i++) {
      const server = new Server({ transport: nats({ servers: [first.url, second.url] }), logger: silentLogger }).register(new Here());
      await server.listen(first.url);
      const answer = await caller.invoke<{ ok: boolean }>('Here', 'ping', {}, { timeout: 2_000 }).catch((e: Error) => e.message);
      await server.close({ drainTimeout: 200 });
      expect(answer, `listener ${i}`).toEqual({ ok: true });
    }
  });
});
