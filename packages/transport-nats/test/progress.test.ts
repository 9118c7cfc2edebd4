import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createInbox, headers, type Msg, type NatsConnection } from 'nats';
import { Method, RpcError, Server, Service, silentLogger, type CallContext, type Code } from '@svc/core';
import { Compression, type Channel, type Dispatcher, type Peer, type RequestMessage, type ResponseMessage } from '@svc/core/transport';
import { nats } from '../src/index.js';
import { decodeResponse, responseHeaders } from '../src/call-headers.js';
import { NatsServerProcess, eventually } from '../src/testing/index.js';
import { readAnswers, requestFrame } from './raw-frames.js';
import { callChannel, type ChannelOutcome } from '@svc/core/testing';

@Service('Work')
class Work {
  runs = 0;

  @Method()
  async run(request: unknown): Promise<unknown> {
    this.runs++;
    return request;
  }

  @Method()
  async fail(request: { code: Code; retryable?: boolean }): Promise<never> {
    this.runs++;
    throw new RpcError(request.code, `failed with ${request.code}`, { retryable: request.retryable });
  }

  @Method()
  async hold(request: { ms: number }, ctx: CallContext): Promise<{ ms: number }> {
    this.runs++;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, request.ms);
      ctx.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    return request;
  }
}

/** A JSON call on a channel, beneath any client fail mode. */
function rawCall(channel: Channel, method: string, args: unknown, service = 'Work'): Promise<ChannelOutcome> {
  return callChannel(channel, service, method, args);
}

/** The Svc-Error header of a reply, parsed. */
function svcError(msg: Msg): Record<string, unknown> {
  return JSON.parse(msg.headers!.get('Svc-Error')) as Record<string, unknown>;
}

describe('how far a failed call got, over NATS', () => {
  let natsd: NatsServerProcess;
  let nc: NatsConnection;

  beforeAll(async () => {
    natsd = await NatsServerProcess.start();
    nc = await connect({ servers: natsd.url });
  });
  afterAll(async () => {
    await nc?.close();
    await natsd?.dispose();
  });

  async function serve(options: Parameters<typeof nats>[0] = {}): Promise<{ work: Work; server: Server; address: string }> {
    const work = new Work();
    const server = new Server({ transport: nats(options), logger: silentLogger, drainTimeout: 500 }).register(work);
    const address = await server.listen(natsd.url);
    return { work, server, address };
  }

  describe('plain requests: progress and retryable in the Svc-Error JSON', () => {
    it('are absent for a handler error of the code\'s default, present when they say more', async () => {
      const { server } = await serve();
      try {
        const plain = await nc.request('svc.rpc.Work.fail', JSON.stringify({ code: 'INTERNAL' }), { timeout: 2_000 });
        expect(svcError(plain)).toEqual({ status: 13, message: 'failed with INTERNAL' });
        const notRetryable = await nc.request('svc.rpc.Work.fail', JSON.stringify({ code: 'UNAVAILABLE', retryable: false }), { timeout: 2_000 });
        expect(svcError(notRetryable)).toEqual({ status: 14, message: 'failed with UNAVAILABLE', retryable: 2 });
        const unknown = await nc.request('svc.rpc.Work.nope', '{}', { timeout: 2_000 });
        expect(svcError(unknown)).toMatchObject({ status: 12, progress: 1 });
      } finally {
        await server.close();
      }
    });

    it('say refused for call headers that do not parse and metadata over the caps', async () => {
      const { work, server } = await serve({ maxMetadataEntries: 1 });
      try {
        const h = headers();
        h.set('Svc-Timeout', 'soon');
        expect(svcError(await nc.request('svc.rpc.Work.run', '{}', { headers: h, timeout: 2_000 }))).toMatchObject({ status: 3, progress: 1 });
        const m = headers();
        m.set('Svc-Metadata', JSON.stringify({ a: '1', b: '2' }));
        // metadataTooLarge is not retryable, unlike RESOURCE_EXHAUSTED by default.
        expect(svcError(await nc.request('svc.rpc.Work.run', '{}', { headers: m, timeout: 2_000 }))).toMatchObject({ status: 8, progress: 1, retryable: 2 });
        expect(work.runs).toBe(0);
      } finally {
        await server.close();
      }
    });

    it('say refused beyond maxConcurrentCalls', async () => {
      const { server } = await serve({ maxConcurrentCalls: 1 });
      try {
        const held = nc.request('svc.rpc.Work.hold', JSON.stringify({ ms: 300 }), { timeout: 2_000 });
        await new Promise((r) => setTimeout(r, 50));
        expect(svcError(await nc.request('svc.rpc.Work.run', '{}', { timeout: 2_000 }))).toMatchObject({ status: 8, progress: 1 });
        await held;
      } finally {
        await server.close();
      }
    });

    it('round-trip through responseHeaders and decodeResponse; absent means 0, and a bad value does not parse', () => {
      const error: ResponseMessage = { status: 14, message: 'm', progress: 1, retryable: 2, metadata: undefined, codec: 'json', compression: Compression.NONE, body: new Uint8Array(0) };
      expect(decodeResponse(responseHeaders(error), new Uint8Array(0))).toMatchObject({ status: 14, progress: 1, retryable: 2 });
      const plain = decodeResponse(responseHeaders({ ...error, progress: 0, retryable: 0 }), new Uint8Array(0));
      expect([plain.progress, plain.retryable]).toEqual([undefined, undefined]);
      const h = headers();
      h.set('Svc-Error', '{"status":14,"progress":"refused"}');
      expect(() => decodeResponse(h, new Uint8Array(0))).toThrow(/progress/);
    });
  });

  describe('framed calls', () => {
    it('a message refused whole (maxCallsPerMessage, undecodable frames) is refused, none of it run', async () => {
      const { work, server } = await serve({ maxCallsPerMessage: 2 });
      const channel = nats({ callsPerMessage: 8 }).connect(natsd.url);
      try {
        const outcomes = await Promise.all([1, 2, 3].map((n) => rawCall(channel, 'run', { n })));
        for (const o of outcomes) expect(o.error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused', retryable: false });
        const garbage = await nc.request('svc.rpc.Work.$frames', Buffer.from('no frames here'), { timeout: 2_000 });
        expect(svcError(garbage)).toMatchObject({ status: 3, progress: 1 });
        expect(work.runs).toBe(0);
      } finally {
        await channel.close();
        await server.close();
      }
    });

    it('a call beyond maxConcurrentCalls is answered refused', async () => {
      const { server } = await serve({ maxConcurrentCalls: 1 });
      const channel = nats({ callsPerMessage: 1 }).connect(natsd.url);
      try {
        const held = rawCall(channel, 'hold', { ms: 300 });
        await new Promise((r) => setTimeout(r, 50));
        const over = await rawCall(channel, 'run', {});
        expect(over.response).toMatchObject({ status: 8, progress: 1 });
        expect((await held).response).toMatchObject({ status: 0 });
      } finally {
        await channel.close();
        await server.close();
      }
    });

    it('no responders is not_sent, for any instance or one', async () => {
      const channel = nats().connect(natsd.url);
      const instance = nats().connect(`${natsd.url}?instance=nobody`);
      try {
        expect((await rawCall(channel, 'run', {}, 'Nobody')).error).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
        expect((await rawCall(instance, 'run', {}, 'Nobody')).error).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
      } finally {
        await channel.close();
        await instance.close();
      }
    });

    it('closing the channel: a published call is processed, one not published yet is not_sent and never sent', async () => {
      const { work, server } = await serve();
      const channel = nats().connect(natsd.url);
      try {
        expect((await rawCall(channel, 'run', { warm: true })).response).toMatchObject({ status: 0 });
        const held = rawCall(channel, 'hold', { ms: 2_000 });
        await eventually(() => work.runs === 2, 2_000, 'the held call to run');
        const unpublished = rawCall(channel, 'run', { late: true }); // still in this tick's batch
        await channel.close();
        expect((await held).error).toMatchObject({ code: 'UNAVAILABLE', progress: 'processed' });
        expect((await unpublished).error).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
        await new Promise((r) => setTimeout(r, 100));
        expect(work.runs).toBe(2);
      } finally {
        await server.close();
      }
    });

    it('a request over max_payload is not_sent', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'svc-nats-progress-'));
      const conf = join(dir, 'small.conf');
      writeFileSync(conf, 'max_payload: 4096\n');
      const small = await NatsServerProcess.start(['-c', conf]);
      const channel = nats().connect(small.url);
      try {
        const outcome = await rawCall(channel, 'run', { text: 'x'.repeat(8_192) }, 'Nobody');
        expect(outcome.error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'not_sent' });
      } finally {
        await channel.close();
        await small.dispose();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the listener says who calls (RequestMessage.peer)', () => {
    it('framed: the caller\'s inbox, one object for the calls of a message; plain: the reply subject', async () => {
      const peers: (Peer | undefined)[] = [];
      const dispatcher: Dispatcher = {
        serviceDefinitions: [{ name: 'Work', options: {}, methods: new Map() }],
        dispatch(request, replyTo) {
          peers.push(request.peer);
          queueMicrotask(() => replyTo.reply(request.id, { status: 0, metadata: undefined, codec: 'json', compression: Compression.NONE, body: request.body }));
          return { cancel() {} };
        },
      };
      const listener = await nats().listen(natsd.url, dispatcher);
      try {
        const inbox = createInbox();
        const answers: Msg[] = [];
        nc.subscribe(`${inbox}.*`, { callback: (_e, m) => answers.push(m) });
        nc.publish('svc.rpc.Work.$frames', Buffer.concat([requestFrame(1, 'Work', 'run', {}), requestFrame(2, 'Work', 'run', {})]), { reply: `${inbox}.7` });
        await eventually(() => answers.length > 0, 2_000, 'the answers');
        expect(readAnswers(answers[0]!.data).map((a) => a.id)).toEqual([1, 2]);
        expect(peers[0]).toEqual({ transport: 'nats', address: inbox });
        expect(peers[1]).toBe(peers[0]);

        const reply = createInbox();
        const plain: Msg[] = [];
        nc.subscribe(reply, { callback: (_e, m) => plain.push(m) });
        nc.publish('svc.rpc.Work.run', '{}', { reply });
        await eventually(() => plain.length > 0, 2_000, 'the plain answer');
        expect(peers[2]).toEqual({ transport: 'nats', address: reply });
      } finally {
        await listener.close();
      }
    });
  });
});
