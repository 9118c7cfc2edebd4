import { describe, expect, it } from 'vitest';
import {
  CallContext, Client, Method, RpcError, Server, Service, inproc, silentLogger, staticRegistry,
  type Call, type Codec, type Filter, type MethodSerializers, type Peer,
} from '../src/index.js';
import type { ReplyTarget, RequestMessage, ResponseMessage } from '../src/transport/transport.js';
import { Compression, WireProgress } from '../src/wire/header.js';

// What handlers and server filters see of a call (issue 13, server side): a narrow CallContext
// with peer, attempt and definition, and no server internals; and calls the server refuses
// before their handler (unknown, over a limit, unreadable) pass through the filters first.

@Service('Env')
class Env {
  seen: CallContext | undefined;
  runs = 0;

  @Method({ idempotent: true, timeout: 5_000 })
  async look(_request: unknown, ctx: CallContext): Promise<{ attempt: number; peer: Peer | null; keys: string[] }> {
    this.seen = ctx;
    this.runs++;
    return { attempt: ctx.attempt, peer: ctx.peer ?? null, keys: Object.keys(ctx) };
  }

  @Method({ name: 'echo' })
  async echoIt(request: { n: number }): Promise<number> {
    this.runs++;
    return request.n;
  }
}

interface Seen {
  service: string;
  method: string;
  request: unknown;
  definition: string | undefined;
  metadata: Record<string, string>;
  error: RpcError | undefined;
}

/** A server filter that writes down what it saw and what next() came to. */
function recorder(): { filter: Filter; seen: Seen[] } {
  const seen: Seen[] = [];
  const filter: Filter = async (call, next) => {
    const ctx = call as CallContext;
    const entry: Seen = { service: call.service, method: call.method, request: call.request, definition: ctx.definition?.name, metadata: { ...call.metadata }, error: undefined };
    seen.push(entry);
    try {
      return await next();
    } catch (error) {
      entry.error = error as RpcError;
      throw error;
    }
  };
  return { filter, seen };
}

async function rig(options: { filters?: Filter[]; maxMetadataEntries?: number; codecs?: Codec[] } = {}) {
  const transport = inproc({ maxMetadataEntries: options.maxMetadataEntries });
  const env = new Env();
  const server = new Server({ transport, logger: silentLogger, filters: options.filters ?? [] }).register(env);
  const address = await server.listen('inproc://env-' + Math.random());
  const client = new Client({ transport, registry: staticRegistry({ Env: [address], Nope: [address] }), codecs: options.codecs ?? [] });
  return { env, server, client, async stop() { await client.close(); await server.close(); } };
}

/** Hands a request to the server as a transport does, and resolves with its answer. */
function dispatch(server: Server, request: Partial<RequestMessage>): Promise<ResponseMessage> {
  return new Promise((resolve) => {
    const replyTo: ReplyTarget = { reply: (_id, response) => resolve(response) };
    server.dispatch({ id: 1, service: 'Env', method: 'look', codec: 'json', compression: Compression.NONE, deadline: 0, metadata: undefined, body: Buffer.from('{}'), ...request }, replyTo);
  });
}

/** A codec that claims to be JSON and sends bytes that are not. */
const brokenJson: Codec = {
  name: 'json',
  forMethod(): MethodSerializers {
    return {
      encodeRequest: () => Buffer.from('{not json'),
      decodeRequest: () => undefined,
      encodeResponse: () => Buffer.from('null'),
      decodeResponse: (bytes) => JSON.parse(Buffer.from(bytes).toString()),
    };
  },
};

/** A codec the server does not have. */
const unknownCodec: Codec = {
  name: 'weird',
  forMethod(): MethodSerializers {
    return {
      encodeRequest: () => Buffer.from('{}'),
      decodeRequest: () => undefined,
      encodeResponse: () => Buffer.from('null'),
      decodeResponse: () => undefined,
    };
  },
};

describe('CallContext: peer, attempt, definition', () => {
  it('has the peer the transport gives the request', async () => {
    const { server, env } = await rig();
    const peer: Peer = { transport: 'tcp', address: 'tcp://10.0.0.7:53122' };
    const response = await dispatch(server, { peer });
    expect(response.status).toBe(0);
    expect(env.seen!.peer).toBe(peer);
    await dispatch(server, {});
    expect(env.seen!.peer).toBeUndefined();
    await server.close();
  });

  it('reads attempt from svc-attempt metadata: 2 to 5, anything else is 1', async () => {
    const r = await rig();
    const attemptFor = async (value: string | undefined) => {
      const metadata = value === undefined ? undefined : { 'svc-attempt': value };
      return ((await r.client.invoke('Env', 'look', {}, { metadata })) as { attempt: number }).attempt;
    };
    expect(await attemptFor(undefined)).toBe(1);
    for (const n of ['2', '3', '4', '5']) expect(await attemptFor(n)).toBe(Number(n));
    for (const odd of ['1', '0', '6', '10', '02', ' 2', '2.0', '-2', '', 'two']) expect(await attemptFor(odd)).toBe(1);
    await r.stop();
  });

  it('has the method definition (wire name, property, options)', async () => {
    const r = await rig();
    await r.client.invoke('Env', 'look', {});
    expect(r.env.seen!.definition).toMatchObject({ name: 'look', property: 'look', options: { idempotent: true, timeout: 5_000 } });
    await r.stop();
  });

  it('exposes no server internals: no entry, under any key', async () => {
    const r = await rig();
    const reply = (await r.client.invoke('Env', 'look', {})) as { keys: string[] };
    const ctx = r.env.seen!;
    expect('entry' in ctx).toBe(false);
    expect(reply.keys).not.toContain('entry');
    expect(reply.keys).not.toContain('owner');
    expect(Reflect.ownKeys(ctx).map(String).filter((k) => /entry|invoke|serializer/i.test(k))).toEqual([]);
    expect((ctx as unknown as Record<string, unknown>).entry).toBeUndefined();
    await r.stop();
  });

  it('is what the filters see: they read peer, attempt and the decoded request before the handler', async () => {
    const seen: unknown[] = [];
    const filter: Filter = async (call, next) => {
      const ctx = call as CallContext;
      seen.push([ctx.attempt, ctx.peer?.address, ctx.definition?.property, call.request]);
      return next();
    };
    const { server } = await rig({ filters: [filter] });
    await dispatch(server, { method: 'echo', body: Buffer.from('{"n":7}'), peer: { transport: 'inproc', address: 'inproc://a' }, metadata: Object.assign(Object.create(null), { 'svc-attempt': '3' }) });
    expect(seen).toEqual([[3, 'inproc://a', 'echoIt', { n: 7 }]]);
    await server.close();
  });
});

describe('calls refused before the handler pass through the server filters', () => {
  it('an unknown method: the filter sees it as asked for, with no definition, and next() rejects', async () => {
    const { filter, seen } = recorder();
    const r = await rig({ filters: [filter] });
    const error = (await r.client.invoke('Env', 'nope', { a: 1 }).catch((e: unknown) => e)) as RpcError;
    expect(error).toMatchObject({ code: 'UNIMPLEMENTED', progress: 'refused' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ service: 'Env', method: 'nope', request: undefined, definition: undefined });
    expect(seen[0]!.error).toMatchObject({ code: 'UNIMPLEMENTED', message: error.message });
    expect(r.env.runs).toBe(0);
    await r.stop();
  });

  it('an unknown service too', async () => {
    const { filter, seen } = recorder();
    const r = await rig({ filters: [filter] });
    await expect(r.client.invoke('Nope', 'x', {})).rejects.toMatchObject({ code: 'UNIMPLEMENTED', progress: 'refused' });
    expect(seen.map((s) => [s.service, s.method, s.error?.code])).toEqual([['Nope', 'x', 'UNIMPLEMENTED']]);
    await r.stop();
  });

  it('an undecodable body: the filter sees the method, no request, and next() rejects with the decode error', async () => {
    const { filter, seen } = recorder();
    const r = await rig({ filters: [filter], codecs: [brokenJson] });
    const error = (await r.client.invoke('Env', 'echo', { n: 1 }).catch((e: unknown) => e)) as RpcError;
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', progress: 'refused' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ service: 'Env', method: 'echo', request: undefined, definition: 'echo' });
    expect(seen[0]!.error).toMatchObject({ code: 'INVALID_ARGUMENT', message: error.message });
    expect(r.env.runs).toBe(0);
    await r.stop();
  });

  it('a codec the server lacks', async () => {
    const { filter, seen } = recorder();
    const r = await rig({ filters: [filter], codecs: [unknownCodec] });
    const error = (await r.client.invoke('Env', 'echo', { n: 1 }).catch((e: unknown) => e)) as RpcError;
    expect(error).toMatchObject({ progress: 'refused' });
    expect(seen.map((s) => [s.method, s.request, s.error?.code])).toEqual([['echo', undefined, error.code]]);
    expect(r.env.runs).toBe(0);
    await r.stop();
  });

  it('a request over a transport limit (request.violation): the filter sees it without the metadata', async () => {
    const { filter, seen } = recorder();
    const r = await rig({ filters: [filter], maxMetadataEntries: 2 });
    const error = (await r.client.invoke('Env', 'echo', { n: 1 }, { metadata: { a: '1', b: '2', c: '3' } }).catch((e: unknown) => e)) as RpcError;
    expect(error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ service: 'Env', method: 'echo', request: undefined, metadata: {} });
    expect(seen[0]!.error).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect(r.env.runs).toBe(0);
    await r.stop();
  });

  it('a filter may answer its own error instead; swallowing the refusal does not make it a success', async () => {
    const shed: Filter = async (call, next) => (call.method === 'shed' ? Promise.reject(new RpcError('RESOURCE_EXHAUSTED', 'shed')) : next());
    const swallow: Filter = async (_call, next) => next().catch(() => 'swallowed');
    const r = await rig({ filters: [shed, swallow] });
    await expect(r.client.invoke('Env', 'shed', {})).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: 'shed', progress: 'refused' });
    await expect(r.client.invoke('Env', 'nope', {})).rejects.toMatchObject({ code: 'UNIMPLEMENTED', progress: 'refused' });
    expect(await r.client.invoke('Env', 'echo', { n: 4 })).toBe(4);
    await r.stop();
  });

  it('a filter that waits on a refused call is bounded by the deadline, and metadata it sends goes with the error', async () => {
    const waits: Filter = async (call, next) => {
      (call as CallContext).sendMetadata({ seen: 'yes' });
      await new Promise((resolve) => call.signal.addEventListener('abort', resolve));
      return next();
    };
    const { server } = await rig({ filters: [waits] });
    const started = Date.now();
    const response = await dispatch(server, { method: 'nope', deadline: Date.now() + 50 });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(response).toMatchObject({ status: 4, progress: WireProgress.REFUSED, metadata: { seen: 'yes' } });
    await server.close();
  });
});

describe('what stays as it was', () => {
  it('without filters, refusals are answered at once and handlers run as before', async () => {
    const r = await rig();
    await expect(r.client.invoke('Env', 'nope', {})).rejects.toMatchObject({ code: 'UNIMPLEMENTED', progress: 'refused' });
    expect(await r.client.invoke('Env', 'echo', { n: 2 })).toBe(2);
    await r.stop();
  });

  it('with filters, a handler that throws is processed and a known call is seen once', async () => {
    const { filter, seen } = recorder();
    const throwing: Filter = async (call: Call, next) => {
      if (call.method === 'echo' && (call.request as { n: number }).n < 0) {
        await next();
        throw new RpcError('UNAVAILABLE', 'after the handler');
      }
      return next();
    };
    const r = await rig({ filters: [filter, throwing] });
    expect(await r.client.invoke('Env', 'echo', { n: 3 })).toBe(3);
    await expect(r.client.invoke('Env', 'echo', { n: -1 })).rejects.toMatchObject({ code: 'UNAVAILABLE', progress: 'processed' });
    expect(seen.map((s) => [s.method, s.request, s.definition])).toEqual([['echo', { n: 3 }, 'echo'], ['echo', { n: -1 }, 'echo']]);
    await r.stop();
  });
});
