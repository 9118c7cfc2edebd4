import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGzip } from 'node:zlib';
import { connect, createInbox, headers, type Msg, type NatsConnection } from 'nats';
import { Client, EventContext, Method, Server, Service, Subscribe, staticRegistry, type CallContext, type Logger } from '@svc/core';
import { DEFAULT_MAX_METADATA_BYTES, DEFAULT_MAX_METADATA_ENTRIES, type Dispatcher, type ReplyTarget, type RequestMessage } from '@svc/core/transport';
import { nats } from '../src/index.js';
import type { NatsListener } from '../src/nats-listener.js';
import { ServiceStats } from '../src/service-stats.js';
import { NatsServerProcess, eventually } from '../src/testing/index.js';
import { rawFrame, readAnswers, requestFrame } from './raw-frames.js';

/** A logger that keeps what it is told. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') } as Logger & { lines: string[] };
}

/** True when nothing is inherited from Object.prototype (core's metadata maps, Object.create(null)). */
function withoutObjectPrototype(md: object): boolean {
  return !(md instanceof Object) && !('toString' in md) && !('hasOwnProperty' in md);
}

interface Seen {
  n: number;
  keys: string[];
  prototypeless: boolean;
  proto: string | undefined;
}

@Service('Echo')
class Echo {
  runs = 0;
  readonly events: { keys: string[]; prototypeless: boolean }[] = [];

  @Method()
  async who(args: { n: number }, ctx: CallContext): Promise<Seen> {
    this.runs++;
    const md = ctx.metadata;
    return { n: args.n, keys: Object.keys(md), prototypeless: withoutObjectPrototype(md), proto: Object.prototype.hasOwnProperty.call(md, '__proto__') ? md['__proto__'] : undefined };
  }

  @Method()
  async mirror(_: unknown, ctx: CallContext): Promise<void> {
    ctx.sendMetadata(ctx.metadata);
  }

  @Method()
  async slow(args: { ms: number }, ctx: CallContext): Promise<{ done: boolean }> {
    this.runs++;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, args.ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(t);
        reject(ctx.signal.reason);
      });
    });
    return { done: true };
  }

  @Subscribe('hostile.event')
  async heard(_: unknown, ctx: EventContext): Promise<void> {
    this.events.push({ keys: Object.keys(ctx.metadata), prototypeless: withoutObjectPrototype(ctx.metadata) });
  }
}

function codeOf(msg: Msg): string | undefined {
  return msg.headers?.get('Nats-Service-Error-Code') || undefined;
}

/** The listener a Server made (white box: for the counts a peer must not be able to grow). */
function listenerOf(server: Server): NatsListener {
  return (server as unknown as { listeners: NatsListener[] }).listeners[0]!;
}

describe('hostile publishers on the service subjects', () => {
  let natsd: NatsServerProcess;
  let echo: Echo;
  let server: Server;
  let client: Client;
  let nc: NatsConnection;

  beforeAll(async () => {
    natsd = await NatsServerProcess.start();
    echo = new Echo();
    server = new Server({ transport: nats(), logger: recordingLogger() }).register(echo);
    await server.listen(natsd.url);
    client = new Client({ transport: nats(), registry: staticRegistry({ Echo: [natsd.url] }), eventAddress: natsd.url, timeout: 5_000 });
    nc = await connect({ servers: natsd.url });
  });

  afterAll(async () => {
    await nc?.close();
    await client?.close();
    await server?.close({ drainTimeout: 500 });
    await natsd?.dispose();
  });

  /** A normal client is still served, and no call of the hostile message ran (runs counts them). */
  async function stillServing(runsBefore: number): Promise<void> {
    expect((await client.invoke<Seen>('Echo', 'who', { n: 42 })).n).toBe(42);
    expect(echo.runs).toBe(runsBefore + 1);
  }

  const frames = (...parts: Buffer[]): Buffer => Buffer.concat(parts);

  /** The next message on `subject` (a plain subscriber sees what the queue group gets), once subscribed. */
  async function nextMessage(subject: string): Promise<{ next: Promise<Msg> }> {
    let resolve!: (m: Msg) => void;
    const next = new Promise<Msg>((r) => (resolve = r));
    nc.subscribe(subject, { max: 1, callback: (_e, m) => resolve(m) });
    await nc.flush();
    return { next };
  }
  const who = (id: number, n = id): Buffer => requestFrame(id, 'Echo', 'who', { n });

  it('refuses garbage in a $frames message with INVALID_ARGUMENT, runs nothing, and goes on serving', async () => {
    const garbage: [string, Buffer][] = [
      ['text', Buffer.from('hello, world')],
      ['an unknown wire version', Buffer.from([0x53, 0x56, 9, 0, 0, 0, 4, 0, 0, 0, 0])],
      ['a message that ends inside a frame', Buffer.from([0x53, 0x56, 1, 0, 0, 0, 9])],
      ['a header that is not protobuf', Buffer.from([0x53, 0x56, 1, 0, 0, 0, 7, 0, 0, 0, 3, 0x08, 0xff, 0xff])],
      ['a header length past the frame', Buffer.from([0x53, 0x56, 1, 0, 0, 0, 4, 0, 0, 0, 9])],
      ['10 kB of 0xff', Buffer.alloc(10_000, 0xff)],
    ];
    for (const [what, payload] of garbage) {
      const runs = echo.runs;
      const reply = await nc.request('svc.rpc.Echo.$frames', payload, { timeout: 2_000 });
      expect(codeOf(reply), what).toBe('3');
      expect(reply.headers!.get('Nats-Service-Error'), what).toContain('none of its calls was run');
      await stillServing(runs);
    }
  });

  it('refuses a message with a bad frame in the middle as a whole: the calls before and after it do not run', async () => {
    const middles: [string, Buffer][] = [
      ['bytes that are no frame', Buffer.from('xx')],
      ['a PING frame', rawFrame({ kind: 3, id: 2 })],
      ['a RESPONSE frame', rawFrame({ kind: 2, id: 2, body: '{}' })],
      ['a request without a method', rawFrame({ kind: 1, id: 2, service: 'Echo', codec: 'json', body: '{}' })],
      ['a request without a service', rawFrame({ kind: 1, id: 2, method: 'who', codec: 'json', body: '{}' })],
      ['a request without an id', rawFrame({ kind: 1, service: 'Echo', method: 'who', codec: 'json', body: '{"n":2}' })],
      ['a request id above 2^32', who(2 ** 32 + 2)],
    ];
    for (const [what, middle] of middles) {
      const runs = echo.runs;
      const reply = await nc.request('svc.rpc.Echo.$frames', frames(who(1), middle, who(3)), { timeout: 2_000 });
      expect(codeOf(reply), what).toBe('3');
      expect(reply.headers!.get('Nats-Service-Error'), what).toContain('none of its calls was run');
      await stillServing(runs);
    }
  });

  it('never answers a request id above 2^32 as another id; 2^32 - 1 round-trips', async () => {
    const inbox = createInbox();
    const sub = nc.subscribe(`${inbox}.*`, { max: 2 });
    const replies: Msg[] = [];
    const done = (async () => {
      for await (const m of sub) replies.push(m);
    })();
    nc.publish('svc.rpc.Echo.$frames', who(2 ** 32 + 7, 7), { reply: `${inbox}.1` });
    nc.publish('svc.rpc.Echo.$frames', who(2 ** 32 - 1, 9), { reply: `${inbox}.2` });
    await Promise.race([done, eventually(() => replies.length === 2, 3_000, 'two replies')]);
    const bySubject = new Map(replies.map((m) => [m.subject, m]));
    const big = bySubject.get(`${inbox}.1`)!;
    expect(codeOf(big)).toBe('3');
    expect(big.headers!.get('Svc-Error')).toContain('4294967303');
    const max = bySubject.get(`${inbox}.2`)!;
    expect(max.headers).toBeUndefined();
    expect(readAnswers(max.data).map((a) => [a.kind, a.id, a.status, (JSON.parse(a.body) as Seen).n])).toEqual([[2, 2 ** 32 - 1, 0, 9]]);
  });

  it('refuses a message claiming thousands of calls with RESOURCE_EXHAUSTED before any runs; 1,024 are answered', async () => {
    const runs = echo.runs;
    const many = frames(...Array.from({ length: 5_000 }, (_, i) => who(i + 1)));
    const reply = await nc.request('svc.rpc.Echo.$frames', many, { timeout: 5_000 });
    expect(codeOf(reply)).toBe('8');
    expect(reply.headers!.get('Nats-Service-Error')).toContain('maxCallsPerMessage');
    await stillServing(runs);

    // At the default limit every call is run and answered, in messages of answers.
    const inbox = createInbox();
    const ids = new Set<number>();
    const sub = nc.subscribe(`${inbox}.*`, {
      callback: (_e, m) => {
        for (const a of readAnswers(m.data)) if (a.status === 0) ids.add(a.id);
      },
    });
    nc.publish('svc.rpc.Echo.$frames', frames(...Array.from({ length: 1_024 }, (_, i) => who(i + 1))), { reply: `${inbox}.1` });
    await eventually(() => ids.size === 1_024, 10_000, '1,024 answers');
    sub.unsubscribe();
    expect(echo.runs).toBe(runs + 1 + 1_024);
  });

  it('keeps the tables of callers bounded under a flood of messages from distinct inboxes', async () => {
    const listener = listenerOf(server);
    const runs = echo.runs;
    const inbox = createInbox();
    let answered = 0;
    const sub = nc.subscribe(`${inbox}.>`, { callback: () => answered++ });
    // A normal client calls all along.
    const normal = Array.from({ length: 200 }, (_, n) => client.invoke<Seen>('Echo', 'who', { n }));
    for (let i = 0; i < 5_000; i++) nc.publish('svc.rpc.Echo.$frames', who(1, i), { reply: `${inbox}.c${i}.1` });
    (await Promise.all(normal)).forEach((r, n) => expect(r.n).toBe(n));
    await eventually(() => answered === 5_000, 20_000, '5,000 answers');
    sub.unsubscribe();
    expect(echo.runs).toBe(runs + 5_200);
    // A table per caller is kept between its calls, but the empty ones are swept as callers pile up.
    expect(listener.callerCount).toBeLessThanOrEqual(2_048);
    await stillServing(echo.runs);
  });

  it('ignores an answer flood with unknown ids on a client\'s reply subject, and keeps answering the client', async () => {
    const seen = (await nextMessage('svc.rpc.Echo.$frames')).next;
    await client.invoke('Echo', 'who', { n: 1 });
    const request = await seen;
    const inbox = request.reply!.slice(0, request.reply!.lastIndexOf('.'));
    const callerId = readAnswers(request.data)[0]!.id;

    const calls = Array.from({ length: 500 }, (_, n) => client.invoke<Seen>('Echo', 'who', { n }));
    const forged = Array.from({ length: 100 }, (_, i) => rawFrame({ kind: 2, id: 1_000_000 + i, codec: 'json', body: '{"n":-1}' }));
    for (let i = 0; i < 2_000; i++) {
      const to = `${inbox}.${900_000 + i}`; // names no message of the client
      if (i % 4 === 0) nc.publish(to, Buffer.from('garbage'));
      else if (i % 4 === 1) nc.publish(to, frames(...forged));
      else if (i % 4 === 2) nc.publish(to, rawFrame({ kind: 2, id: 2 ** 32 + callerId + 1 + (i % 50), codec: 'json', body: '{"n":-1}' }));
      else {
        const h = headers();
        h.set('Svc-Error', '{"status":13,"message":"forged"}');
        nc.publish(to, new Uint8Array(0), { headers: h });
      }
    }
    const results = await Promise.all(calls);
    results.forEach((r, n) => expect(r.n).toBe(n));
  });

  it('fails the calls of a message at once when a reply to it does not parse, rather than at their deadline', async () => {
    const seen = (await nextMessage('svc.rpc.Echo.$frames')).next;
    const started = Date.now();
    const call = client.invoke('Echo', 'slow', { ms: 3_000 }, { timeout: 10_000 });
    const request = await seen;
    nc.publish(request.reply!, Buffer.from('not a frame'));
    await expect(call).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('does not parse') });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses a compressed bomb with RESOURCE_EXHAUSTED, framed or plain, and keeps memory bounded', async () => {
    const bomb = await gzipZeros(64 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(200_000);
    const rss = process.memoryUsage().rss;
    const runs = echo.runs;
    const framed = await nc.request('svc.rpc.Echo.$frames', requestFrame(1, 'Echo', 'who', {}, { compression: 1, body: bomb }), { timeout: 10_000 });
    const answer = readAnswers(framed.data)[0]!;
    expect(answer.status).toBe(8);
    const h = headers();
    h.set('Svc-Compression', '1');
    const plain = await nc.request('svc.rpc.Echo.who', bomb, { timeout: 10_000, headers: h });
    expect(codeOf(plain)).toBe('8');
    expect(process.memoryUsage().rss - rss).toBeLessThan(48 * 1024 * 1024);
    await stillServing(runs);
  });

  it('fails a call whose answer is a compressed bomb with RESOURCE_EXHAUSTED on the client', async () => {
    const bomb = await gzipZeros(64 * 1024 * 1024);
    // A hostile "instance" of a service nobody else serves answers every call with the bomb.
    const sub = nc.subscribe('svc.rpc.Bomb.$frames', {
      queue: 'svc.rpc.Bomb',
      callback: (_e, m) => {
        const answers = readAnswers(m.data).map((call) => rawFrame({ kind: 2, id: call.id, codec: 'json', compression: 1, body: bomb }));
        m.respond(Buffer.concat(answers));
      },
    });
    await nc.flush();
    const rss = process.memoryUsage().rss;
    try {
      await expect(client.invoke('Bomb', 'go', {}, { address: natsd.url })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
      expect(process.memoryUsage().rss - rss).toBeLessThan(48 * 1024 * 1024);
    } finally {
      sub.unsubscribe();
    }
  });

  describe('metadata in NATS headers (Svc-Metadata)', () => {
    async function plainWho(metadata: string | undefined, extra: Record<string, string> = {}): Promise<Msg> {
      const h = headers();
      if (metadata !== undefined) h.set('Svc-Metadata', metadata);
      for (const [k, v] of Object.entries(extra)) h.set(k, v);
      return nc.request('svc.rpc.Echo.who', JSON.stringify({ n: 5 }), { timeout: 2_000, headers: h });
    }

    it('gives handlers own keys only, in a map without a prototype; __proto__ is an ordinary key', async () => {
      const reply = await plainWho('{"__proto__":"x","tenant":"a"}');
      expect(codeOf(reply)).toBeUndefined();
      expect(reply.json<Seen>()).toEqual({ n: 5, keys: ['__proto__', 'tenant'], prototypeless: true, proto: 'x' });
    });

    it('refuses values that are not strings with INVALID_ARGUMENT naming the key; the handler does not run', async () => {
      for (const md of ['{"count":5}', '{"a":"ok","nested":{"b":"c"}}', '{"__proto__":{"polluted":"yes"}}', '{"flag":true}', '{"none":null}']) {
        const runs = echo.runs;
        const reply = await plainWho(md);
        expect(codeOf(reply), md).toBe('3');
        const key = /"(\w+)":[^"]/.exec(md)![1]!;
        expect(reply.headers!.get('Nats-Service-Error'), md).toContain(`'${key}'`);
        expect(echo.runs, md).toBe(runs);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('refuses metadata that is not a JSON object, and call headers that do not parse, with INVALID_ARGUMENT', async () => {
      const runs = echo.runs;
      for (const md of ['[1,2]', '"text"', '7', 'null', '{not json']) expect(codeOf(await plainWho(md)), md).toBe('3');
      expect(codeOf(await plainWho(undefined, { 'Svc-Timeout': 'soon' }))).toBe('3');
      expect(codeOf(await plainWho(undefined, { 'Svc-Compression': 'gzip' }))).toBe('3');
      expect(echo.runs).toBe(runs);
    });

    it('caps entries and bytes like core (RESOURCE_EXHAUSTED), and takes what is within them', async () => {
      const entries = (n: number): string => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v'])));
      const runs = echo.runs;
      expect(codeOf(await plainWho(entries(DEFAULT_MAX_METADATA_ENTRIES + 1)))).toBe('8');
      expect(codeOf(await plainWho(JSON.stringify({ big: 'x'.repeat(DEFAULT_MAX_METADATA_BYTES) })))).toBe('8');
      expect(codeOf(await plainWho(JSON.stringify({ big: 'x'.repeat(200_000) })))).toBe('8');
      expect(echo.runs).toBe(runs);
      const ok = await plainWho(entries(DEFAULT_MAX_METADATA_ENTRIES));
      expect(codeOf(ok)).toBeUndefined();
      expect(ok.json<Seen>().keys).toHaveLength(DEFAULT_MAX_METADATA_ENTRIES);
    });
  });

  it('gives handlers the metadata of a framed call as own keys without a prototype; __proto__ round-trips', async () => {
    const reply = await nc.request('svc.rpc.Echo.$frames', requestFrame(1, 'Echo', 'who', { n: 1 }, { metadata: [['__proto__', 'x'], ['tenant', 'a']] }), { timeout: 2_000 });
    const [answer] = readAnswers(reply.data);
    expect(answer!.status).toBe(0);
    expect(JSON.parse(answer!.body)).toEqual({ n: 1, keys: ['__proto__', 'tenant'], prototypeless: true, proto: 'x' });

    // Back again, in response metadata: framed to an @svc client, and in a plain reply's header.
    let back: Record<string, string> | undefined;
    await client.invoke('Echo', 'mirror', {}, { metadata: JSON.parse('{"__proto__":"x","t":"a"}') as Record<string, string>, onMetadata: (md) => (back = md) });
    expect(Object.keys(back!)).toEqual(['__proto__', 't']);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toBe('x');
    const h = headers();
    h.set('Svc-Metadata', '{"__proto__":"y"}');
    const plain = await nc.request('svc.rpc.Echo.mirror', '{}', { timeout: 2_000, headers: h });
    expect(plain.headers?.get('Svc-Metadata')).toBe('{"__proto__":"y"}');
  });

  it('refuses only the framed call whose metadata is over the caps; the others of its message run', async () => {
    const runs = echo.runs;
    const many = Array.from({ length: DEFAULT_MAX_METADATA_ENTRIES + 1 }, (_, i): [string, string] => [`k${i}`, 'v']);
    const big: [string, string][] = [['big', 'x'.repeat(DEFAULT_MAX_METADATA_BYTES)]];
    const inbox = createInbox();
    const answers: ReturnType<typeof readAnswers> = [];
    const sub = nc.subscribe(`${inbox}.*`, { callback: (_e, m) => answers.push(...readAnswers(m.data)) });
    nc.publish('svc.rpc.Echo.$frames', frames(who(1), requestFrame(2, 'Echo', 'who', { n: 2 }, { metadata: many }), requestFrame(3, 'Echo', 'who', { n: 3 }, { metadata: big }), who(4)), { reply: `${inbox}.1` });
    await eventually(() => answers.length === 4, 3_000, 'four answers');
    sub.unsubscribe();
    expect(answers.map((a) => [a.id, a.status]).sort()).toEqual([[1, 0], [2, 8], [3, 8], [4, 0]]);
    expect(answers.find((a) => a.id === 2)!.message).toContain('maxMetadataEntries');
    expect(echo.runs).toBe(runs + 2);
  });

  it('drops an event whose Svc-Metadata is not an object of strings, and delivers metadata without a prototype', async () => {
    const bad = headers();
    bad.set('Svc-Metadata', '{"n":5}');
    nc.publish('svc.evt.hostile.event', '{}', { headers: bad });
    const good = headers();
    good.set('Svc-Metadata', '{"__proto__":"x","by":"me"}');
    nc.publish('svc.evt.hostile.event', '{}', { headers: good });
    await eventually(() => echo.events.length >= 1, 3_000, 'the event');
    // The good one was published after the bad one: had the bad one been delivered, it would be first.
    expect(echo.events).toEqual([{ keys: ['__proto__', 'by'], prototypeless: true }]);
    // An @svc publisher is told at once, rather than its subscribers dropping the event.
    await expect(client.publish('hostile.event', {}, { metadata: { n: 5 } as unknown as Record<string, string> })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining("'n'") });
  });
});

describe('maxConcurrentCalls', () => {
  it('answers calls beyond it RESOURCE_EXHAUSTED without running them, framed or plain, and serves again below it', async () => {
    const natsd = await NatsServerProcess.start();
    const echo = new Echo();
    const server = new Server({ transport: nats({ maxConcurrentCalls: 5 }), logger: recordingLogger() }).register(echo);
    const client = new Client({ transport: nats(), registry: staticRegistry({ Echo: [natsd.url] }), timeout: 5_000 });
    const nc = await connect({ servers: natsd.url });
    try {
      await server.listen(natsd.url);
      const outcomes = await Promise.all(
        Array.from({ length: 12 }, () =>
          client.invoke('Echo', 'slow', { ms: 300 }).then(
            () => 'ok',
            (e: { code: string }) => e.code,
          ),
        ),
      );
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(5);
      expect(outcomes.filter((o) => o === 'RESOURCE_EXHAUSTED')).toHaveLength(7);
      expect(echo.runs).toBe(5);

      const slow = Array.from({ length: 5 }, () => client.invoke('Echo', 'slow', { ms: 500 }));
      await eventually(() => server.inflightCount === 5, 2_000, 'five calls in flight');
      const busy = await nc.request('svc.rpc.Echo.who', '{"n":1}', { timeout: 2_000 });
      expect(busy.headers?.get('Nats-Service-Error-Code')).toBe('8');
      expect(busy.headers?.get('Nats-Service-Error')).toContain('maxConcurrentCalls');
      await expect(client.invoke('Echo', 'who', { n: 1 })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maxConcurrentCalls') });
      expect(echo.runs).toBe(10);
      await Promise.all(slow);
      expect((await client.invoke<Seen>('Echo', 'who', { n: 3 })).n).toBe(3);
      expect((await nc.request('svc.rpc.Echo.who', '{"n":4}', { timeout: 2_000 })).json<Seen>().n).toBe(4);
    } finally {
      await nc.close();
      await client.close();
      await server.close({ drainTimeout: 500 });
      await natsd.dispose();
    }
  });

  it('refuses a limit that is not a whole number', () => {
    expect(() => nats({ maxConcurrentCalls: 0 })).toThrow(/maxConcurrentCalls/);
    expect(() => nats({ maxCallsPerMessage: 1.5 })).toThrow(/maxCallsPerMessage/);
  });
});

/** Replies from a dispatcher that is not @svc's Server: what the transport itself lets through. */
describe('responses that cannot be sent', () => {
  const bad: Record<string, Record<string, unknown>> = { number: { count: 5 }, bytes: { blob: Buffer.from('x') }, undefined: { gone: undefined }, object: { o: { a: 'b' } } };

  it('are answered INTERNAL, framed or plain, never as a success; the listener forgets them and logs why', async () => {
    const natsd = await NatsServerProcess.start();
    const logger = recordingLogger();
    const thrown: unknown[] = [];
    const dispatcher: Dispatcher = {
      serviceDefinitions: [{ name: 'Bad', options: {}, methods: new Map() }],
      logger,
      dispatch(request: RequestMessage, replyTo: ReplyTarget) {
        queueMicrotask(() => {
          try {
            replyTo.reply(request.id, { status: 0, metadata: bad[request.method] as Record<string, string>, codec: 'json', compression: 0, body: Buffer.from('1') });
          } catch (error) {
            thrown.push(error);
          }
        });
        return { cancel() {} };
      },
    };
    const listener = (await nats().listen(natsd.url, dispatcher)) as NatsListener;
    const client = new Client({ transport: nats(), registry: staticRegistry({ Bad: [natsd.url] }), timeout: 1_000 });
    const nc = await connect({ servers: natsd.url });
    try {
      for (const method of Object.keys(bad)) {
        const key = Object.keys(bad[method]!)[0]!;
        await expect(client.invoke('Bad', method, {}), method).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining(`response metadata key '${key}'`) });
        const plain = await nc.request(`svc.rpc.Bad.${method}`, '{}', { timeout: 2_000 });
        expect(plain.headers?.get('Nats-Service-Error-Code'), method).toBe('13');
        expect(plain.headers?.get('Svc-Metadata'), method).toBe('');
      }
      expect(thrown).toEqual([]);
      expect(listener.inflightCount).toBe(0);
      expect(logger.lines.filter((l) => l.startsWith('error Bad.') && l.includes('response metadata key'))).toHaveLength(2 * Object.keys(bad).length);
      expect(logger.lines.find((l) => l.includes('Bad.number'))).toContain("'count'");
    } finally {
      await nc.close();
      await client.close();
      await listener.close();
      await natsd.dispose();
    }
  });
});

describe('service stats', () => {
  it('count the service\'s own methods only, whatever names calls make up', () => {
    const stats = new ServiceStats(['a']);
    for (let i = 0; i < 10_000; i++) stats.record(`made-up-${i}`, 1, 'UNIMPLEMENTED: no');
    stats.record('a', 1, undefined);
    expect((stats as unknown as { byMethod: Map<string, unknown> }).byMethod.size).toBe(1);
    expect(stats.of('a')).toEqual({ num_requests: 1, num_errors: 0, last_error: '', processing_time: 1_000_000, average_processing_time: 1_000_000 });
  });
});

/** `bytes` zeros, gzipped, made in pieces so that the test itself never holds them. */
async function gzipZeros(bytes: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    gzip.once('end', resolve);
    gzip.once('error', reject);
  });
  const chunk = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < bytes; written += chunk.length) {
    if (!gzip.write(chunk)) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await ended;
  return Buffer.concat(out);
}

