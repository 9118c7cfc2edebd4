import { describe, expect, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, inproc, silentLogger, staticRegistry, type CallContext } from '../src/index.js';

@Service('Slow')
class Slow {
  @Method()
  async sleep(request: { ms: number }, ctx: CallContext): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, request.ms));
    return ctx.signal.aborted ? 'aborted' : 'done';
  }

  @Method()
  async explode(): Promise<never> {
    throw new TypeError('bad thing');
  }
}

async function rig(options: { exposeStack?: boolean; drainTimeout?: number } = {}) {
  const t = inproc();
  const server = new Server({ transport: t, logger: silentLogger, ...options }).register(new Slow());
  const address = await server.listen('inproc://slow');
  const client = new Client({ transport: t, registry: staticRegistry({ Slow: [address] }) });
  return { server, client };
}

describe('Server', () => {
  it('sends the handler stack only when exposeStack is on', async () => {
    const quiet = await rig();
    const e1 = (await quiet.client.invoke('Slow', 'explode', {}).catch((e: unknown) => e)) as RpcError;
    expect(e1.remoteStack).toBeUndefined();
    const loud = await rig({ exposeStack: true });
    const e2 = (await loud.client.invoke('Slow', 'explode', {}).catch((e: unknown) => e)) as RpcError;
    expect(e2).toMatchObject({ code: 'UNKNOWN', message: 'bad thing' });
    expect(e2.remoteStack).toContain('TypeError: bad thing');
    await Promise.all([quiet.server.close(), loud.server.close()]);
  });

  it('cuts calls off with UNAVAILABLE when they outlast the drain timeout', async () => {
    const { server, client } = await rig({ drainTimeout: 100 });
    const slow = client.invoke('Slow', 'sleep', { ms: 2_000 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await slow).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('drain timeout 100 ms') });
    expect(server.inflightCount).toBe(0);
  });

  it('refuses a second service of the same name and an address no transport serves', async () => {
    const server = new Server({ transport: inproc() }).register(new Slow());
    expect(() => server.register(new Slow())).toThrow(/already registered/);
    await expect(server.listen('tcp://127.0.0.1:0')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('no transport handles') });
  });

  it('tells a client with no address for a service where to add one', async () => {
    const client = new Client({ transport: inproc(), registry: staticRegistry({}) });
    await expect(client.invoke('Nowhere', 'x', {})).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining("staticRegistry({ Nowhere: ['127.0.0.1:8972'] })") });
  });

  it('refuses calls on a closed client', async () => {
    const { server, client } = await rig();
    await client.close();
    await expect(client.invoke('Slow', 'sleep', { ms: 1 })).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: false });
    await server.close();
  });
});

describe('deadlines of a second or more', () => {
  it('fire on the shared sweep, a little late but never early, on both sides', async () => {
    const { server, client } = await rig();
    const started = Date.now();
    const error = await client.invoke('Slow', 'sleep', { ms: 5_000 }, { timeout: 1_200 }).catch((e: unknown) => e);
    const took = Date.now() - started;
    expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED', message: expect.stringContaining('1200 ms') });
    expect(took).toBeGreaterThanOrEqual(1_200);
    expect(took).toBeLessThan(1_600);
    await server.close({ drainTimeout: 100 });
  });
});
