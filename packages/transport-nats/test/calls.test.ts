import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, headers, type NatsConnection } from 'nats';
import { Client, Method, RpcError, Server, Service, silentLogger, staticRegistry, type CallContext } from '@svc/core';
import { nats } from '../src/index.js';
import { NatsServerProcess, eventually } from '../src/testing/index.js';

@Service('Echo', { version: '1.2.3' })
class Echo {
  constructor(readonly name: string) {}
  calls = 0;
  @Method()
  async who(args: { n: number }, ctx: CallContext): Promise<{ name: string; n: number; tenant: string | undefined }> {
    this.calls++;
    ctx.sendMetadata({ served: this.name });
    return { name: this.name, n: args.n, tenant: ctx.metadata.tenant };
  }
  @Method()
  async slow(args: { ms: number }, ctx: CallContext): Promise<{ done: string }> {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, args.ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(t);
        reject(ctx.signal.reason);
      });
    });
    return { done: this.name };
  }
  @Method()
  async fail(): Promise<void> {
    throw new RpcError('FAILED_PRECONDITION', 'not ready', { details: { why: 'warming up' } });
  }
}

describe('calls over NATS', () => {
  let natsd: NatsServerProcess;
  const servers: Server[] = [];
  const instances: Echo[] = [];
  let client: Client;

  beforeAll(async () => {
    natsd = await NatsServerProcess.start();
    for (const name of ['a', 'b', 'c']) {
      const echo = new Echo(name);
      const server = new Server({ transport: nats(), logger: silentLogger }).register(echo);
      await server.listen(natsd.url);
      servers.push(server);
      instances.push(echo);
    }
    client = new Client({ transport: nats(), registry: staticRegistry({ Echo: [natsd.url] }), timeout: 5_000 });
  });

  afterAll(async () => {
    await client?.close();
    for (const s of servers) await s.close({ drainTimeout: 500 });
    await natsd?.dispose();
  });

  it('answers with metadata both ways', async () => {
    let md: Record<string, string> | undefined;
    const r = await client.invoke<{ n: number; tenant: string }>('Echo', 'who', { n: 7 }, { metadata: { tenant: 'ünï' }, onMetadata: (m) => (md = m) });
    expect(r.n).toBe(7);
    expect(r.tenant).toBe('ünï');
    expect(['a', 'b', 'c']).toContain(md?.served);
  });

  it('spreads calls over the instances of the queue group, a message of up to 16 calls at a time', async () => {
    const before = instances.map((i) => i.calls);
    const results = await Promise.all(Array.from({ length: 3_000 }, (_, n) => client.invoke<{ name: string }>('Echo', 'who', { n })));
    expect(new Set(results.map((r) => r.name))).toEqual(new Set(['a', 'b', 'c']));
    const delta = instances.map((i, k) => i.calls - before[k]!);
    expect(delta.reduce((x, y) => x + y, 0)).toBe(3_000);
    for (const d of delta) expect(d).toBeGreaterThan(300); // about 1,000 each, in about 190 messages
  });

  it('spreads single calls with callsPerMessage: 1', async () => {
    const single = new Client({ transport: nats({ callsPerMessage: 1 }), registry: staticRegistry({ Echo: [natsd.url] }), timeout: 5_000 });
    try {
      const before = instances.map((i) => i.calls);
      await Promise.all(Array.from({ length: 300 }, (_, n) => single.invoke('Echo', 'who', { n })));
      const delta = instances.map((i, k) => i.calls - before[k]!);
      expect(delta.reduce((x, y) => x + y, 0)).toBe(300);
      for (const d of delta) expect(d).toBeGreaterThan(30);
    } finally {
      await single.close();
    }
  });

  it('sends a burst as few NATS messages of framed calls, and answers every call with its own result', async () => {
    const nc: NatsConnection = await connect({ servers: natsd.url });
    const replies: string[] = [];
    // A plain subscriber sees every message its subject gets, besides the queue group.
    const watch = nc.subscribe('svc.rpc.Echo.$frames', { callback: (_e, msg) => replies.push(msg.reply ?? '') });
    await nc.flush();
    try {
      const results = await Promise.all(Array.from({ length: 1_000 }, (_, n) => client.invoke<{ n: number }>('Echo', 'who', { n })));
      results.forEach((r, n) => expect(r.n).toBe(n));
      await nc.flush();
      expect(replies.length).toBeGreaterThanOrEqual(Math.ceil(1_000 / 16));
      expect(replies.length).toBeLessThan(200);
      for (const reply of replies) expect(reply).toMatch(/^_INBOX\.\w+\.\d+$/);
    } finally {
      watch.unsubscribe();
      await nc.close();
    }
  });

  it('never sends a call cancelled in the tick it was made', async () => {
    const nc: NatsConnection = await connect({ servers: natsd.url });
    let frames = 0;
    const watch = nc.subscribe('svc.rpc.Echo.$frames', { callback: () => frames++ });
    await nc.flush();
    try {
      const controller = new AbortController();
      const cancelled = client.invoke('Echo', 'who', { n: 1 }, { signal: controller.signal });
      controller.abort();
      await expect(cancelled).rejects.toMatchObject({ code: 'CANCELLED' });
      expect((await client.invoke<{ n: number }>('Echo', 'who', { n: 2 })).n).toBe(2); // a later call goes out
      await nc.flush();
      expect(frames).toBe(1);
    } finally {
      watch.unsubscribe();
      await nc.close();
    }
  });

  it('answers a message of framed calls that does not parse with INVALID_ARGUMENT, and goes on serving', async () => {
    const nc: NatsConnection = await connect({ servers: natsd.url });
    try {
      const reply = await nc.request('svc.rpc.Echo.$frames', new Uint8Array([0x53, 0x56, 1, 0, 0, 0, 9]), { timeout: 2_000 });
      expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('3');
      expect(reply.headers?.get('Nats-Service-Error')).toContain('does not parse');
      expect((await client.invoke<{ n: number }>('Echo', 'who', { n: 2 })).n).toBe(2);
    } finally {
      await nc.close();
    }
  });

  it('routes a call addressed to one instance to that instance only', async () => {
    const address = servers[1]!.addresses[0]!;
    expect(address).toMatch(/^nats:\/\/127\.0\.0\.1:\d+\?instance=\w+$/);
    const results = await Promise.all(Array.from({ length: 20 }, (_, n) => client.invoke<{ name: string }>('Echo', 'who', { n }, { address })));
    expect(new Set(results.map((r) => r.name))).toEqual(new Set(['b']));
  });

  it('carries an error with its code, message and details', async () => {
    const error = (await client.invoke('Echo', 'fail', {}).catch((e: unknown) => e)) as RpcError;
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: 'FAILED_PRECONDITION', message: 'not ready', details: { why: 'warming up' } });
  });

  it('fails at once with UNAVAILABLE when no instance listens (no responders)', async () => {
    const started = Date.now();
    const error = (await client.invoke('Nobody', 'x', {}, { address: natsd.url, timeout: 5_000 }).catch((e: unknown) => e)) as RpcError;
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toContain('no responders');
    expect(Date.now() - started).toBeLessThan(1_000);
    const gone = (await client.invoke('Echo', 'who', { n: 1 }, { address: `${natsd.url}?instance=gone`, timeout: 5_000 }).catch((e: unknown) => e)) as RpcError;
    expect(gone.code).toBe('UNAVAILABLE');
    expect(gone.message).toContain("instance 'gone'");
  });

  it('answers a plain NATS request with JSON and no @svc headers', async () => {
    const nc: NatsConnection = await connect({ servers: natsd.url });
    try {
      const reply = await nc.request('svc.rpc.Echo.who', JSON.stringify({ n: 5 }), { timeout: 2_000 });
      expect(reply.json<{ n: number }>().n).toBe(5);
      const failed = await nc.request('svc.rpc.Echo.fail', '', { timeout: 2_000 });
      expect(failed.headers?.get('Nats-Service-Error-Code')).toBe('9');
      expect(failed.headers?.get('Nats-Service-Error')).toBe('not ready');
      const h = headers();
      h.set('Svc-Timeout', '50');
      const late = await nc.request('svc.rpc.Echo.slow', JSON.stringify({ ms: 2_000 }), { timeout: 2_000, headers: h });
      expect(late.headers?.get('Nats-Service-Error-Code')).toBe('4');
    } finally {
      await nc.close();
    }
  });

  it('cancels the handler on the instance that runs the call', async () => {
    const controller = new AbortController();
    const pending = client.invoke('Echo', 'slow', { ms: 3_000 }, { signal: controller.signal });
    await eventually(() => servers.some((s) => s.inflightCount === 1), 2_000, 'the call to arrive');
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    await eventually(() => servers.every((s) => s.inflightCount === 0), 2_000, 'the handler to be cancelled');
  });
});

describe('graceful drain over NATS', () => {
  it('unsubscribes first, finishes calls in flight, then closes; the other instance takes new calls', async () => {
    const natsd = await NatsServerProcess.start();
    const transport = nats();
    const first = new Server({ transport, logger: silentLogger }).register(new Echo('first'));
    const second = new Server({ transport: nats(), logger: silentLogger }).register(new Echo('second'));
    const client = new Client({ transport: nats(), registry: staticRegistry({ Echo: [natsd.url] }), timeout: 5_000 });
    try {
      await first.listen(natsd.url);
      const firstOnly = first.addresses[0]!;
      const inflight = Array.from({ length: 10 }, () => client.invoke<{ done: string }>('Echo', 'slow', { ms: 400 }, { address: firstOnly }));
      await eventually(() => first.inflightCount === 10, 2_000, 'calls to arrive');
      await second.listen(natsd.url);
      const closing = first.close({ drainTimeout: 5_000 });
      // While the first drains, new calls go to the second instance.
      await new Promise((r) => setTimeout(r, 50));
      const during = await Promise.all(Array.from({ length: 10 }, (_, n) => client.invoke<{ name: string }>('Echo', 'who', { n })));
      expect(new Set(during.map((r) => r.name))).toEqual(new Set(['second']));
      for (const r of await Promise.all(inflight)) expect(r.done).toBe('first');
      await closing;
      await expect(client.invoke('Echo', 'who', { n: 1 }, { address: firstOnly })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      await second.close();
      await expect(client.invoke('Echo', 'who', { n: 1 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      await client.close();
      await first.close();
      await second.close();
      await natsd.dispose();
    }
  });
});
