import { describe, expect, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, inproc, silentLogger, staticRegistry, type Filter } from '../src/index.js';
import { decodeHeader, encodeHeader, FrameKind } from '../src/transport-kit.js';

@Service()
class Work {
  runs = 0;
  @Method()
  async run(): Promise<string> {
    this.runs++;
    throw new RpcError('UNAVAILABLE', 'busy downstream', { progress: 'refused' });
  }
  @Method()
  async flaky(): Promise<string> {
    throw new RpcError('UNAVAILABLE', 'try later', { retryable: false });
  }
}

async function rig(filters: Filter[] = []) {
  const transport = inproc();
  const work = new Work();
  const server = new Server({ transport, logger: silentLogger, filters }).register(work);
  const address = await server.listen('inproc://progress-' + Math.random());
  const client = new Client({ transport, registry: staticRegistry({ Work: [address] }) });
  return { work, client, async stop() { await client.close(); await server.close(); } };
}

describe('progress and retryable on the wire', () => {
  it('header fields 13 and 14 survive a round trip and are absent by default', () => {
    const h = decodeHeader(encodeHeader({ kind: FrameKind.RESPONSE, id: 7, status: 14, progress: 1, retryable: 2 }));
    expect([h.progress, h.retryable]).toEqual([1, 2]);
    const plain = decodeHeader(encodeHeader({ kind: FrameKind.RESPONSE, id: 7, status: 14 }));
    expect([plain.progress, plain.retryable]).toEqual([undefined, undefined]);
  });

  it('a handler that ran is processed, whatever progress its error claims', async () => {
    const r = await rig();
    const error = await r.client.invoke('Work', 'run', {}).catch((e: unknown) => e as RpcError);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', progress: 'processed' });
    expect(r.work.runs).toBe(1);
    await r.stop();
  });

  it('an unknown method and a filter that refuses are refused', async () => {
    const r = await rig([async (call, next) => (call.method === 'flaky' ? next() : call.method === 'run' ? Promise.reject(new RpcError('RESOURCE_EXHAUSTED', 'shed')) : next())]);
    await expect(r.client.invoke('Work', 'nope', {})).rejects.toMatchObject({ code: 'UNIMPLEMENTED', progress: 'refused' });
    await expect(r.client.invoke('Work', 'run', {})).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused' });
    expect(r.work.runs).toBe(0);
    await r.stop();
  });

  it('retryable travels when it differs from the code default', async () => {
    const r = await rig();
    await expect(r.client.invoke('Work', 'flaky', {})).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: false, progress: 'processed' });
    await r.stop();
  });

  it('errors raised before sending are not_sent', async () => {
    const client = new Client({ transport: inproc(), registry: staticRegistry({}) });
    await expect(client.invoke('Nowhere', 'x', {})).rejects.toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
    await client.close();
  });
});
