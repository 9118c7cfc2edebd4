import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createInbox, type NatsConnection } from 'nats';
import { Client, RpcError, Server, silentLogger, staticRegistry } from '@svc/core';
import { StreamsTestService as Streams, streamPattern, failureOf } from '@svc/core/testing';
import { DEFAULT_STREAM_WINDOW, encodeFrame, FrameDecoder, FrameKind, StreamKind, type Frame, type FrameHeader } from '@svc/core/transport';
import { nats, type NatsTransportOptions } from '../src/index.js';
import type { NatsListener } from '../src/nats-listener.js';
import { NatsServerProcess, eventually, sleep } from '../src/testing/index.js';

/** Small heartbeats, so that the liveness tests take a second rather than fifteen. */
const HEARTBEAT = { interval: 200, timeout: 600 };

function listenerOf(server: Server): NatsListener {
  return (server as unknown as { listeners: NatsListener[] }).listeners[0]!;
}

interface Rig {
  server: Server;
  service: Streams;
  client: Client;
  address: string;
  close(): Promise<void>;
}

async function rig(natsd: NatsServerProcess, serverOptions: NatsTransportOptions = {}, clientOptions: NatsTransportOptions = {}): Promise<Rig> {
  const service = new Streams();
  const server = new Server({ transport: nats({ streamHeartbeat: HEARTBEAT, ...serverOptions }), logger: silentLogger, drainTimeout: 5_000 }).register(service);
  const address = await server.listen(natsd.url);
  const client = new Client({ transport: nats({ streamHeartbeat: HEARTBEAT, ...clientOptions }), registry: staticRegistry({ Streams: [natsd.url] }), timeout: 30_000, logger: silentLogger });
  return {
    server,
    service,
    client,
    address,
    async close() {
      await client.close();
      await server.close({ drainTimeout: 500 });
    },
  };
}

/** A process of test/fixtures/stream-process.mjs (on dist/), once it printed its first line. */
async function startProcess(args: string[]): Promise<{ child: ChildProcess; line: Record<string, unknown>; kill(signal?: NodeJS.Signals): Promise<void> }> {
  const script = fileURLToPath(new URL('./fixtures/stream-process.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the stream process did not start in 20 s')), 20_000);
    lines.once('line', (text) => {
      clearTimeout(timer);
      resolve(JSON.parse(text) as Record<string, unknown>);
    });
    child.once('exit', (code) => reject(new Error(`the stream process exited with ${code}`)));
  });
  return {
    child,
    line,
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(child.pid!, signal);
      return gone;
    },
  };
}

/** A stream message by hand: sequence number, then frame bytes (stream-message.ts). */
function streamMessage(seq: number, bytes: Uint8Array = new Uint8Array(0)): Buffer {
  const message = Buffer.alloc(4 + bytes.length);
  message.writeUInt32BE(seq, 0);
  message.set(bytes, 4);
  return message;
}

/**
 * A hostile or broken stream client on a raw nats.js connection: opens a stream by hand, records
 * what the server sends (frames, sequence numbers, statuses) and sends whatever it is told.
 */
class RawStreamClient {
  readonly subject = `${createInbox()}.s.1`;
  serverSubject: string | undefined = undefined;
  readonly frames: Frame[] = [];
  readonly sequences: number[] = [];
  private readonly nc: NatsConnection;
  private readonly decoder = new FrameDecoder({ maxFrameSize: 1 << 30 });
  private seq = 0;

  private constructor(nc: NatsConnection) {
    this.nc = nc;
  }

  /** Opens a stream of `request` (id 1) on `openSubject` and waits for the server's first message. */
  static async open(nc: NatsConnection, openSubject: string, request: FrameHeader, body?: Uint8Array): Promise<RawStreamClient> {
    const raw = new RawStreamClient(nc);
    nc.subscribe(raw.subject, {
      callback: (_e, msg) => {
        raw.sequences.push(Buffer.from(msg.data).readUInt32BE(0));
        raw.serverSubject ??= msg.reply;
        raw.decoder.push(Buffer.from(msg.data.subarray(4)), (frame) => raw.frames.push(frame));
      },
    });
    await nc.flush();
    raw.send(encodeFrame({ ...request, id: 1 }, body), openSubject);
    await eventually(() => raw.sequences.length > 0, 5_000, "the server's first message");
    return raw;
  }

  /** Publishes `bytes` as the next message (or as message `seq`). */
  send(bytes: Uint8Array, subject = this.serverSubject!, seq = this.seq++): void {
    this.nc.publish(subject, streamMessage(seq, bytes), { reply: this.subject });
  }

  ended(): Frame | undefined {
    return this.frames.find((f) => f.kind === FrameKind.END || f.kind === FrameKind.RESPONSE);
  }
}

describe('nats streams', () => {
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

  it('echoes 100 000 messages over a bidirectional stream, complete and in order', async () => {
    const r = await rig(natsd);
    try {
      async function* messages() {
        for (let i = 0; i < 100_000; i++) yield { i };
      }
      let expected = 0;
      for await (const message of r.client.bidiStream<{ i: number }>('Streams', 'echo', messages())) {
        if (message.i !== expected) throw new Error(`message ${expected} arrived as ${message.i}`);
        expected++;
      }
      expect(expected).toBe(100_000);
    } finally {
      await r.close();
    }
  }, 60_000);

  it('moves 64 MiB each way with bounded RSS growth', async () => {
    const r = await rig(natsd);
    const size = 64 * 1024;
    const count = 1024; // 64 MiB
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
    try {
      function* chunks(n: number) {
        for (let i = 0; i < n; i++) yield streamPattern(i, size);
      }
      // A quarter of it first, each way, so that what is measured is the transfer, not the heap
      // growing to its working size (each 64 KiB message leaves 200 KiB of garbage behind).
      for await (const _ of r.client.serverStream<string>('Streams', 'pour', { count: count / 4, size }));
      await r.client.clientStream('Streams', 'drink', chunks(count / 4));
      const growth = async (run: () => Promise<void>): Promise<number> => {
        const base = process.memoryUsage.rss();
        peak = base;
        await run();
        peak = Math.max(peak, process.memoryUsage.rss());
        return (peak - base) / 1024 / 1024;
      };
      let received = 0;
      let whole = true;
      const down = await growth(async () => {
        for await (const chunk of r.client.serverStream<string>('Streams', 'pour', { count, size })) {
          if (received % 97 === 0 && chunk !== streamPattern(received, size)) whole = false;
          received += chunk.length === size ? 1 : 0;
        }
      });
      let result: { count: number; chars: number; whole: boolean } | undefined;
      const up = await growth(async () => {
        result = await r.client.clientStream('Streams', 'drink', chunks(count));
      });
      expect(received).toBe(count);
      expect(whole).toBe(true);
      expect(result).toEqual({ count, chars: count * size, whole: true });
      // Client and server are in this process: a side that buffered the transfer would grow by 64 MiB at least.
      expect(down).toBeLessThan(32);
      expect(up).toBeLessThan(32);
    } finally {
      clearInterval(sampler);
      await r.close();
    }
  }, 120_000);

  it('lets open streams finish on drain, while new streams get no responders', async () => {
    const r = await rig(natsd);
    try {
      const received: number[] = [];
      const loop = (async () => {
        for await (const message of r.client.serverStream<{ i: number }>('Streams', 'ticks', { tag: 'drain', n: 30, everyMs: 10 })) received.push(message.i);
      })();
      await eventually(() => received.length > 3);
      const closing = r.server.close({ drainTimeout: 5_000 });
      await loop;
      await closing;
      expect(received).toEqual(Array.from({ length: 30 }, (_, i) => i));
      const late = await failureOf(() => r.client.clientStream('Streams', 'sum', [{ n: 1 }]));
      expect(late).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent', message: expect.stringContaining('no responders') });
    } finally {
      await r.close();
    }
  });

  it('a stream to an instance that is gone (no responders, not_sent) is opened on the next instance, with the messages it had sent', async () => {
    const gone = new Server({ transport: nats({ streamHeartbeat: HEARTBEAT }), logger: silentLogger }).register(new Streams());
    const goneAddress = await gone.listen(natsd.url);
    await gone.close();
    const live = new Streams();
    const server = new Server({ transport: nats({ streamHeartbeat: HEARTBEAT }), logger: silentLogger }).register(live);
    const liveAddress = await server.listen(natsd.url);
    // Always the first instance not tried: the gone one first.
    const client = new Client({
      transport: nats({ streamHeartbeat: HEARTBEAT }),
      registry: staticRegistry({ Streams: [goneAddress, liveAddress] }),
      selector: { select: (nodes, _call, tried) => nodes.find((n) => !tried.includes(n.address)) ?? nodes[0]! },
      logger: silentLogger,
    });
    try {
      expect(goneAddress).not.toBe(liveAddress);
      expect(await client.clientStream('Streams', 'sum', [{ n: 1 }, { n: 2 }, { n: 3 }])).toBe(6);
      const ticks: number[] = [];
      for await (const tick of client.serverStream<{ i: number }>('Streams', 'ticks', { tag: 'moved', n: 2, everyMs: 1 })) ticks.push(tick.i);
      expect(ticks).toEqual([0, 1]);
      expect(live.finallies).toContain('moved');
    } finally {
      await client.close();
      await server.close({ drainTimeout: 500 });
    }
  });

  it('ends open streams with UNAVAILABLE when the drain times out, and runs their finally', async () => {
    const r = await rig(natsd);
    try {
      let seen = 0;
      const loop = failureOf(async () => {
        for await (const _ of r.client.serverStream('Streams', 'ticks', { tag: 'cut', everyMs: 5 })) seen++;
      });
      await eventually(() => seen > 2);
      await r.server.close({ drainTimeout: 200 });
      expect(await loop).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('drain timeout') });
      // The generator's finally runs once its pending await is over.
      await eventually(() => r.service.finallies.includes('cut'), 2_000, "the generator's finally");
    } finally {
      await r.close();
    }
  });

  describe('liveness', () => {
    it('a server process killed mid-stream makes every loop throw UNAVAILABLE within the heartbeat bound', async () => {
      const child = await startProcess(['serve', natsd.url, String(HEARTBEAT.interval)]);
      const client = new Client({ transport: nats({ streamHeartbeat: HEARTBEAT }), registry: staticRegistry({ Streams: [child.line['address'] as string] }), timeout: 0 });
      try {
        const seen = [0, 0, 0];
        const loops = seen.map((_, k) =>
          failureOf(async () => {
            for await (const _ of client.serverStream('Streams', 'ticks', { tag: `t${k}` })) seen[k]!++;
          }),
        );
        await eventually(() => seen.every((n) => n > 3));
        const killedAt = Date.now();
        await child.kill('SIGKILL');
        const errors = await Promise.all(loops);
        expect(errors.map((e) => e.code)).toEqual(['UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE']);
        expect(errors[0]).toBeInstanceOf(RpcError);
        expect(Date.now() - killedAt).toBeLessThan(HEARTBEAT.timeout + HEARTBEAT.interval + 1_000);
      } finally {
        await client.close();
        await child.kill();
      }
    });

    it('a server process that stops answering (SIGSTOP) is given up after the heartbeat timeout', async () => {
      const child = await startProcess(['serve', natsd.url, String(HEARTBEAT.interval)]);
      const client = new Client({ transport: nats({ streamHeartbeat: HEARTBEAT }), registry: staticRegistry({ Streams: [child.line['address'] as string] }), timeout: 0 });
      try {
        let seen = 0;
        const loop = failureOf(async () => {
          for await (const _ of client.serverStream('Streams', 'ticks', { tag: 'frozen' })) seen++;
        });
        await eventually(() => seen > 3);
        const stoppedAt = Date.now();
        process.kill(child.child.pid!, 'SIGSTOP');
        const error = await loop;
        const took = Date.now() - stoppedAt;
        // Its subscription stays (the NATS server sees a live connection): only the silence tells.
        expect(error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(`for ${HEARTBEAT.timeout} ms`) });
        expect(took).toBeGreaterThanOrEqual(HEARTBEAT.timeout - 50);
        expect(took).toBeLessThan(HEARTBEAT.timeout + HEARTBEAT.interval + 1_000);
      } finally {
        await client.close();
        await child.kill();
      }
    });

    it('a client process killed mid-stream frees the server side: its signal fires (UNAVAILABLE) and its finally runs', async () => {
      const r = await rig(natsd);
      const child = await startProcess(['consume', r.address, String(HEARTBEAT.interval), 'killed-client']);
      try {
        expect(r.server.inflightCount).toBe(1);
        await child.kill('SIGKILL');
        await eventually(() => r.service.finallies.includes('killed-client'), 3_000, "the generator's finally");
        expect(r.service.aborts.get('killed-client')).toBe('UNAVAILABLE');
        await eventually(() => r.server.inflightCount === 0 && listenerOf(r.server).streamCount === 0);
      } finally {
        await child.kill();
        await r.close();
      }
    });

    it('a client process that stops reading (SIGSTOP) is given up after the heartbeat timeout', async () => {
      const r = await rig(natsd);
      const child = await startProcess(['consume', r.address, String(HEARTBEAT.interval), 'frozen-client']);
      try {
        process.kill(child.child.pid!, 'SIGSTOP');
        await eventually(() => r.service.finallies.includes('frozen-client'), HEARTBEAT.timeout + HEARTBEAT.interval + 1_000, "the generator's finally");
        expect(r.service.aborts.get('frozen-client')).toBe('UNAVAILABLE');
        expect(listenerOf(r.server).streamCount).toBe(0);
      } finally {
        await child.kill();
        await r.close();
      }
    });

    it('a killed nats-server fails the streams on both sides with UNAVAILABLE, and streams work once it is back', async () => {
      const own = await NatsServerProcess.start();
      const r = await rig(own);
      try {
        let seen = 0;
        const loop = failureOf(async () => {
          for await (const _ of r.client.serverStream('Streams', 'ticks', { tag: 'nats-killed', everyMs: 5 })) seen++;
        });
        await eventually(() => seen > 3);
        const killedAt = Date.now();
        await own.kill();
        expect((await loop).code).toBe('UNAVAILABLE');
        await eventually(() => r.service.finallies.includes('nats-killed'), 3_000, "the generator's finally");
        expect(r.service.aborts.get('nats-killed')).toBe('UNAVAILABLE');
        expect(Date.now() - killedAt).toBeLessThan(3_000);
        await own.start();
        await eventually(async () => (await r.client.clientStream<number>('Streams', 'sum', [{ n: 2 }, { n: 3 }]).catch(() => 0)) === 5, 10_000, 'a stream after the restart');
      } finally {
        await r.close();
        await own.dispose();
      }
    }, 30_000);
  });

  describe('messages larger than max_payload', () => {
    let small: NatsServerProcess;
    let r: Rig;
    let spy: NatsConnection;
    const seenSizes: number[] = [];

    beforeAll(async () => {
      small = await NatsServerProcess.start([], 'max_payload: 4096\n');
      r = await rig(small, { maxFrameSize: 300_000 }, { maxFrameSize: 300_000 });
      spy = await connect({ servers: small.url });
      // What the client sends on its streams' subjects, as the NATS server carries it.
      spy.subscribe('svc.strm.>', { callback: (_e, msg) => seenSizes.push(msg.data.length) });
      await spy.flush();
    });
    afterAll(async () => {
      await spy?.close();
      await r?.close();
      await small?.dispose();
    });

    it('splits them into messages of at most max_payload and joins them whole, both ways', async () => {
      seenSizes.length = 0;
      const sizes = [5_000, 100_000, 250_000, 1, 4_093];
      const back: string[] = [];
      for await (const message of r.client.bidiStream<string>('Streams', 'echo', sizes.map((size, i) => streamPattern(i, size)))) back.push(message);
      expect(back.map((m) => m.length)).toEqual(sizes);
      back.forEach((message, i) => expect(message).toBe(streamPattern(i, sizes[i]!)));
      expect(Math.max(...seenSizes)).toBeLessThanOrEqual(4096);
      expect(seenSizes.length).toBeGreaterThan(360_000 / 4096);
      const down: string[] = [];
      for await (const message of r.client.serverStream<string>('Streams', 'pour', { count: 3, size: 200_000 })) down.push(message);
      expect(down).toEqual([0, 1, 2].map((i) => streamPattern(i, 200_000)));
      expect(await r.client.clientStream('Streams', 'drink', [0, 1, 2, 3].map((i) => streamPattern(i, 120_000)))).toEqual({ count: 4, chars: 480_000, whole: true });
    });

    it('fails a message above maxFrameSize with RESOURCE_EXHAUSTED, either way, and the channel goes on', async () => {
      const sent = await failureOf(() => r.client.clientStream('Streams', 'drink', [streamPattern(0, 400_000)]));
      expect(sent).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maximum frame size') });
      const answered = await failureOf(async () => {
        for await (const _ of r.client.serverStream('Streams', 'pour', { count: 1, size: 400_000 }));
      });
      expect(answered).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maximum frame size') });
      expect(await r.client.clientStream('Streams', 'sum', [{ n: 2 }, { n: 3 }])).toBe(5);
    });

    it("fails a server stream whose request does not fit in one message before sending it (not_sent)", async () => {
      const error = await failureOf(async () => {
        for await (const _ of r.client.serverStream('Streams', 'ticks', { tag: streamPattern(0, 5_000) }));
      });
      expect(error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'not_sent', message: expect.stringContaining('max_payload of 4096') });
    });
  });

  describe('lost messages', () => {
    it('a gap in the client’s messages ends the stream with UNAVAILABLE on both sides', async () => {
      const r = await rig(natsd);
      try {
        const raw = await RawStreamClient.open(nc, `svc.inst.${listenerOf(r.server).instance}.Streams.$stream`, { kind: FrameKind.REQUEST, id: 1, service: 'Streams', method: 'hold', codec: 'json', stream: StreamKind.CLIENT });
        raw.send(encodeFrame({ kind: FrameKind.MESSAGE, id: 1 }, Buffer.from('{}')));
        raw.send(encodeFrame({ kind: FrameKind.MESSAGE, id: 1 }, Buffer.from('{}')), undefined, 5); // 2, 3 and 4 lost
        await eventually(() => raw.ended() !== undefined);
        expect(raw.ended()).toMatchObject({ kind: FrameKind.END, status: 14, message: expect.stringContaining('message 2 of the stream from the client never arrived (message 5 did)') });
        await eventually(() => r.service.finallies.includes('hold'));
        expect(r.service.aborts.get('hold')).toBe('UNAVAILABLE');
        expect(listenerOf(r.server).streamCount).toBe(0);
      } finally {
        await r.close();
      }
    });

    it('a gap in the server’s messages makes the loop throw UNAVAILABLE after what came before it, and cancels', async () => {
      // A server by hand: answers the first message, then sends messages 1 and 3 (2 is lost).
      const fakeSubject = `svc.strm.fake.${Date.now()}`;
      const cancels: number[] = [];
      const decoder = new FrameDecoder();
      nc.subscribe(fakeSubject, { callback: (_e, msg) => decoder.push(Buffer.from(msg.data.subarray(4)), (f) => f.kind === FrameKind.CANCEL && cancels.push(f.id)) });
      nc.subscribe('svc.rpc.Fake.$stream', {
        callback: (_e, msg) => {
          const id = new FrameDecoder();
          let streamId = 0;
          id.push(Buffer.from(msg.data.subarray(4)), (f) => (streamId ||= f.id));
          const frame = (i: number) => encodeFrame({ kind: FrameKind.MESSAGE, id: streamId }, Buffer.from(JSON.stringify({ i })));
          nc.publish(msg.reply!, streamMessage(0), { reply: fakeSubject });
          nc.publish(msg.reply!, streamMessage(1, frame(0)), { reply: fakeSubject });
          nc.publish(msg.reply!, streamMessage(3, frame(1)), { reply: fakeSubject });
        },
      });
      await nc.flush();
      const client = new Client({ transport: nats({ streamHeartbeat: HEARTBEAT }), registry: staticRegistry({ Fake: [natsd.url] }), timeout: 5_000 });
      try {
        const seen: number[] = [];
        const error = await failureOf(async () => {
          for await (const message of client.serverStream<{ i: number }>('Fake', 'anything', {})) seen.push(message.i);
        });
        expect(seen).toEqual([0]);
        expect(error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('message 2 of the stream from the server never arrived (message 3 did)') });
        await eventually(() => cancels.length === 1);
      } finally {
        await client.close();
      }
    });
  });

  it('a stream cancelled before the instance answered sends its CANCEL once it does, and nothing else', async () => {
    // A server by hand that answers the first message only after 300 ms.
    const fakeSubject = `svc.strm.slow.${Date.now()}`;
    const kinds: number[] = [];
    const decoder = new FrameDecoder();
    nc.subscribe(fakeSubject, { callback: (_e, msg) => decoder.push(Buffer.from(msg.data.subarray(4)), (f) => kinds.push(f.kind)) });
    nc.subscribe('svc.rpc.Slow.$stream', { callback: (_e, msg) => void sleep(300).then(() => nc.publish(msg.reply!, streamMessage(0), { reply: fakeSubject })) });
    await nc.flush();
    const client = new Client({ transport: nats({ streamHeartbeat: HEARTBEAT }), registry: staticRegistry({ Slow: [natsd.url] }), timeout: 5_000 });
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 20);
      const error = await failureOf(() => client.clientStream('Slow', 'anything', [{ n: 1 }, { n: 2 }], { signal: controller.signal }));
      expect(error.code).toBe('CANCELLED');
      await eventually(() => kinds.length > 0, 2_000, 'the CANCEL');
      await sleep(100);
      expect(kinds).toEqual([FrameKind.CANCEL]);
    } finally {
      await client.close();
    }
  });

  describe('hostile peers', () => {
    let r: Rig;
    let open: string;
    const request = (method: string, stream: number = StreamKind.CLIENT): FrameHeader => ({ kind: FrameKind.REQUEST, id: 1, service: 'Streams', method, codec: 'json', stream });

    beforeAll(async () => {
      r = await rig(natsd, { maxConcurrentStreams: 2, maxFrameSize: 100_000, maxBufferedBytes: 150_000 });
      open = 'svc.rpc.Streams.$stream';
    });
    afterAll(async () => {
      await r?.close();
    });

    it('ends a stream whose client sends beyond its credit with RESOURCE_EXHAUSTED, nothing buffered past the window', async () => {
      r.service.finallies.length = 0;
      const raw = await RawStreamClient.open(nc, open, request('hold'));
      // 400 messages of ~1 KiB, never waiting for a WINDOW: 400 KiB against a 256 KiB window.
      const message = encodeFrame({ kind: FrameKind.MESSAGE, id: 1 }, Buffer.from(JSON.stringify({ n: 1, pad: 'p'.repeat(1_000) })));
      for (let i = 0; i < 400; i++) raw.send(message);
      await eventually(() => raw.ended() !== undefined);
      expect(raw.ended()).toMatchObject({ kind: FrameKind.END, status: 8, message: expect.stringContaining(`${DEFAULT_STREAM_WINDOW}-byte window`) });
      await eventually(() => r.service.finallies.includes('hold') && r.server.inflightCount === 0);
    });

    it('refuses a stream beyond maxConcurrentStreams of one caller, before its handler, and takes one again once a stream ends', async () => {
      const open2 = ['a', 'b'].map((tag) => r.client.serverStream<{ i: number }>('Streams', 'ticks', { tag, everyMs: 5 })[Symbol.asyncIterator]());
      await Promise.all(open2.map((it) => it.next()));
      const refused = await failureOf(async () => {
        for await (const _ of r.client.serverStream('Streams', 'ticks', { tag: 'c' })) break;
      });
      expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused', message: expect.stringContaining('maxConcurrentStreams') });
      expect(r.service.aborts.has('c') || r.service.finallies.includes('c')).toBe(false);
      // Another caller (another channel) is not held back by this one's streams.
      const other = new Client({ transport: nats(), registry: staticRegistry({ Streams: [natsd.url] }) });
      expect(await other.clientStream('Streams', 'sum', [{ n: 4 }])).toBe(4);
      await other.close();
      await open2[0]!.return!();
      await eventually(() => r.service.finallies.includes('a'));
      const seen: number[] = [];
      for await (const tick of r.client.serverStream<{ i: number }>('Streams', 'ticks', { tag: 'd', n: 2, everyMs: 1 })) seen.push(tick.i);
      expect(seen).toEqual([0, 1]);
      await open2[1]!.return!();
      await eventually(() => listenerOf(r.server).streamCount === 0);
    });

    it('ends a stream whose frame, joined from pieces, passes maxFrameSize, before holding more of it', async () => {
      r.service.finallies.length = 0;
      const raw = await RawStreamClient.open(nc, open, request('hold'));
      // A MESSAGE whose length field claims 10 MB, sent in pieces of 20 KB.
      const head = encodeFrame({ kind: FrameKind.MESSAGE, id: 1 });
      head.writeUInt32BE(head.readUInt32BE(3) + 10_000_000, 3);
      raw.send(head);
      const piece = Buffer.alloc(20_000, 0x61);
      for (let i = 0; i < 8; i++) raw.send(piece);
      await eventually(() => raw.ended() !== undefined);
      expect(raw.ended()).toMatchObject({ kind: FrameKind.END, status: 8, message: expect.stringContaining('more than 100000 bytes') });
      await eventually(() => r.service.finallies.includes('hold'));
      expect(listenerOf(r.server).streamBufferedBytes).toBe(0);
    });

    it("ends the stream that takes the listener's incomplete frames past maxBufferedBytes", async () => {
      const partial = (raw: RawStreamClient) => {
        const head = encodeFrame({ kind: FrameKind.MESSAGE, id: 1 });
        head.writeUInt32BE(head.readUInt32BE(3) + 95_000, 3);
        raw.send(head);
        for (let i = 0; i < 4; i++) raw.send(Buffer.alloc(20_000, 0x62));
      };
      const first = await RawStreamClient.open(nc, open, request('hold'));
      partial(first);
      await eventually(() => listenerOf(r.server).streamBufferedBytes >= 80_000);
      const second = await RawStreamClient.open(nc, open, request('hold'));
      partial(second);
      await eventually(() => second.ended() !== undefined);
      expect(second.ended()).toMatchObject({ kind: FrameKind.END, status: 8, message: expect.stringContaining('maxBufferedBytes') });
      expect(first.ended()).toBeUndefined();
      first.send(encodeFrame({ kind: FrameKind.CANCEL, id: 1 }));
      await eventually(() => listenerOf(r.server).streamCount === 0 && listenerOf(r.server).streamBufferedBytes === 0);
    });

    it('refuses openings that do not parse, drops messages for unknown streams, and goes on serving', async () => {
      const inbox = createInbox();
      const answers: Frame[] = [];
      const answeredOn: string[] = [];
      const decoder = new FrameDecoder();
      nc.subscribe(`${inbox}.>`, { callback: (_e, msg) => (answeredOn.push(msg.subject), decoder.push(Buffer.from(msg.data.subarray(4)), (f) => answers.push(f))) });
      await nc.flush();
      nc.publish(open, Buffer.from('hello, world'), { reply: `${inbox}.s.1` });
      nc.publish(open, streamMessage(0, encodeFrame({ kind: FrameKind.MESSAGE, id: 1 })), { reply: `${inbox}.s.2` });
      nc.publish(open, streamMessage(0, encodeFrame({ kind: FrameKind.REQUEST, id: 1, service: 'Streams', method: 'sum', codec: 'json' })), { reply: `${inbox}.s.3` });
      await eventually(() => answers.length === 3);
      expect(answers.map((a) => [a.kind, a.status, a.progress])).toEqual([
        [FrameKind.RESPONSE, 3, 1],
        [FrameKind.RESPONSE, 3, 1],
        [FrameKind.RESPONSE, 3, 1],
      ]);
      // Messages for a stream id the listener does not have get no answer at all.
      nc.publish(`svc.strm.${listenerOf(r.server).instance}.made-up`, streamMessage(7, encodeFrame({ kind: FrameKind.MESSAGE, id: 9 })), { reply: `${inbox}.s.4` });
      // A barrier instead of a wait: the listener takes this opening after the message above (one
      // publisher, one listener connection), so an answer to that one would have come first.
      nc.publish(open, Buffer.from('hello again'), { reply: `${inbox}.s.5` });
      await eventually(() => answeredOn.includes(`${inbox}.s.5`), 2_000, 'the answer to the last opening');
      expect(answeredOn).not.toContain(`${inbox}.s.4`);
      expect(answers).toHaveLength(4);
      expect(listenerOf(r.server).streamCount).toBe(0);
      expect(await r.client.clientStream('Streams', 'sum', [{ n: 1 }, { n: 2 }])).toBe(3);
    });
  });
});
