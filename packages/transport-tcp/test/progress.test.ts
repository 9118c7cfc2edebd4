import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RpcError, Server, silentLogger } from '@svc/core';
import { Compression, encodeFrame, FrameDecoder, FrameKind, type Channel, type Dispatcher, type Frame, type Peer } from '@svc/core/transport';
import { callChannel, type ChannelOutcome } from '@svc/core/testing';
import { tcp } from '../src/index.js';
import type { TcpListener } from '../src/tcp-listener.js';
import { Counter } from './counter-service.js';
import { portOf, until } from './helpers.js';
import { RawPeer, request } from './raw-peer.js';

type Outcome = ChannelOutcome;

/** A call on the channel itself, beneath any client fail mode; `onDone` runs inside the channel's callback. */
function rawCall(channel: Channel, service: string, method: string, args: unknown, onDone?: (outcome: Outcome) => void): Promise<Outcome> {
  return callChannel(channel, service, method, args, { onDone });
}

async function counterServer(options: Parameters<typeof tcp>[0] = {}): Promise<{ server: Server; counter: Counter; address: string }> {
  const counter = new Counter();
  const server = new Server({ transport: tcp(options), logger: silentLogger, drainTimeout: 2_000 }).register(counter);
  const address = await server.listen('tcp://127.0.0.1:0');
  return { server, counter, address };
}

/** A fake server: hands each accepted socket and the frames it reads to `onFrame`. */
async function fakeServer(onFrame: (socket: net.Socket, frame: Frame) => void): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, (frame) => onFrame(socket, frame)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function goaway(status: number, message: string, progress?: number): Buffer {
  return encodeFrame({ kind: FrameKind.GOAWAY, id: 0, status, message, progress });
}

describe('GOAWAY says how far the calls got (header field 13)', () => {
  it('refused for an idle connection closed by shutdown, and for one over maxConnections', async () => {
    const { server, address } = await counterServer();
    const idle = await RawPeer.connect(portOf(address), { allowHalfOpen: true });
    const closing = server.close();
    expect(await idle.closedWithin(1_000)).toBe(true);
    expect(idle.goaway).toMatchObject({ status: 14, progress: 1 });
    await closing;

    const transport = tcp({ maxConnections: 1 });
    const limited = new Server({ transport, logger: silentLogger }).register(new Counter());
    const listener = (await transport.listen('tcp://127.0.0.1:0', limited)) as TcpListener;
    const first = await RawPeer.connect(portOf(listener.address));
    await until(() => listener.stats.connections === 1);
    const extra = await RawPeer.connect(portOf(listener.address));
    expect(await extra.closedWithin(2_000)).toBe(true);
    expect(extra.goaway).toMatchObject({ status: 8, progress: 1 });
    first.destroy();
    await listener.close();
  });

  it('processed (field absent) for a protocol violation, whose connection may have had calls running', async () => {
    const { server, address } = await counterServer();
    const peer = await RawPeer.connect(portOf(address));
    peer.write(encodeFrame({ kind: FrameKind.REQUEST, id: 1 }));
    expect(await peer.closedWithin(2_000)).toBe(true);
    expect(peer.goaway).toMatchObject({ status: 13 });
    expect(peer.goaway!.progress).toBe(0);
    await server.close();
  });
});

describe('refusals of one call go out refused, with retryable as the error says', () => {
  it('tooManyConcurrentCalls', async () => {
    const { server, address } = await counterServer({ maxConcurrentCalls: 1 });
    const peer = await RawPeer.connect(portOf(address));
    peer.write(request(1, 'Counter', 'hold', { ms: 300 }), request(2, 'Counter', 'hit', { over: true }));
    await until(() => peer.frames.some((f) => f.id === 2));
    // RESOURCE_EXHAUSTED retries by default, as this error does: no field 14.
    expect(peer.frames.find((f) => f.id === 2)).toMatchObject({ status: 8, progress: 1, retryable: 0 });
    peer.destroy();
    await server.close();
  });

  it('metadata over the caps and an undecodable body (answered by the server, unrun)', async () => {
    const { server, counter, address } = await counterServer({ maxMetadataEntries: 2 });
    const peer = await RawPeer.connect(portOf(address));
    const metadata = { a: '1', b: '2', c: '3' };
    peer.write(
      encodeFrame({ kind: FrameKind.REQUEST, id: 1, service: 'Counter', method: 'hit', codec: 'json', metadata }, Buffer.from('{}')),
      encodeFrame({ kind: FrameKind.REQUEST, id: 2, service: 'Counter', method: 'hit', codec: 'json' }, Buffer.from('{not json')),
    );
    await until(() => peer.frames.filter((f) => f.kind === FrameKind.RESPONSE).length === 2);
    // metadataTooLarge is not retryable although RESOURCE_EXHAUSTED is by default: field 14 says 2.
    expect(peer.frames.find((f) => f.id === 1)).toMatchObject({ status: 8, progress: 1, retryable: 2 });
    expect(peer.frames.find((f) => f.id === 2)).toMatchObject({ status: 3, progress: 1 });
    expect(counter.seen).toEqual([]);
    peer.destroy();
    await server.close();
  });
});

describe('a client channel says how far each failed call got', () => {
  it('a call refused by a GOAWAY is refused; an old server that sends no field 13 means processed', async () => {
    for (const progress of [1, undefined]) {
      const fake = await fakeServer((socket, frame) => {
        if (frame.kind === FrameKind.REQUEST) socket.write(goaway(14, 'closed for shutdown', progress));
      });
      const channel = tcp().connect(fake.address);
      const outcome = await rawCall(channel, 'Counter', 'hit', {});
      expect(outcome.error).toMatchObject({ code: 'UNAVAILABLE', message: 'closed for shutdown', progress: progress === 1 ? 'refused' : 'processed' });
      await channel.close();
      await fake.close();
    }
  });

  it('calls not yet written when the connection fails are not_sent, those written are processed', async () => {
    // The server answers call 1 and, in the same write, ends the connection with an error. The
    // answer's callback makes call 3, which is queued but not written when the GOAWAY is read.
    const fake = await fakeServer((socket, frame) => {
      if (frame.kind === FrameKind.REQUEST && frame.id === 2) {
        socket.write(Buffer.concat([encodeFrame({ kind: FrameKind.RESPONSE, id: 1, status: 0, codec: 'json' }, Buffer.from('1')), goaway(13, 'going away')]));
      }
    });
    const channel = tcp().connect(fake.address);
    let third: Promise<Outcome> | undefined;
    const first = rawCall(channel, 'Counter', 'hit', { n: 1 }, () => (third = rawCall(channel, 'Counter', 'hit', { n: 3 })));
    const second = rawCall(channel, 'Counter', 'hit', { n: 2 });
    expect((await first).response).toMatchObject({ status: 0 });
    expect((await second).error).toMatchObject({ code: 'INTERNAL', progress: 'processed' });
    expect((await third!).error).toMatchObject({ code: 'INTERNAL', progress: 'not_sent' });
    await channel.close();
    await fake.close();
  });

  it('a call lost with its connection after it was written is processed', async () => {
    const fake = await fakeServer((socket, frame) => {
      if (frame.kind === FrameKind.REQUEST) socket.destroy();
    });
    const channel = tcp().connect(fake.address);
    expect((await rawCall(channel, 'Counter', 'hit', {})).error).toMatchObject({ code: 'UNAVAILABLE', progress: 'processed' });
    await channel.close();
    await fake.close();
  });

  it('a request too large for a frame never leaves: not_sent', async () => {
    const { server, address } = await counterServer();
    const channel = tcp({ maxFrameSize: 1024 }).connect(address);
    expect((await rawCall(channel, 'Counter', 'hit', {})).response).toMatchObject({ status: 0 });
    const outcome = await rawCall(channel, 'Counter', 'hit', { text: 'x'.repeat(4096) });
    expect(outcome.error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'not_sent' });
    await channel.close();
    await server.close();
  });

  it('closing the channel: a call in flight is processed, one still waiting for the dial not_sent', async () => {
    const { server, counter, address } = await counterServer();
    const channel = tcp().connect(address);
    const dialing = rawCall(channel, 'Counter', 'hit', { n: 1 });
    await channel.close();
    expect((await dialing).error).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });

    const other = tcp().connect(address);
    expect((await rawCall(other, 'Counter', 'hit', { warm: true })).response).toMatchObject({ status: 0 });
    const held = rawCall(other, 'Counter', 'hold', { ms: 2_000 });
    await until(() => counter.seen.length === 2);
    await other.close();
    expect((await held).error).toMatchObject({ code: 'UNAVAILABLE', progress: 'processed' });
    await server.close();
  });

  it('nothing listening is not_sent, and so is the backoff after it', async () => {
    const { server, address } = await counterServer();
    await server.close();
    const channel = tcp().connect(address);
    expect((await rawCall(channel, 'Counter', 'hit', {})).error).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
    expect((await rawCall(channel, 'Counter', 'hit', {})).error).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
    await channel.close();
  });
});

describe('the listener says who calls (RequestMessage.peer)', () => {
  /** A dispatcher that keeps each request's peer and answers at once. */
  function recorder(): Dispatcher & { peers: (Peer | undefined)[] } {
    const peers: (Peer | undefined)[] = [];
    return {
      peers,
      dispatch(req, replyTo) {
        peers.push(req.peer);
        queueMicrotask(() => replyTo.reply(req.id, { status: 0, metadata: undefined, codec: 'json', compression: Compression.NONE, body: req.body }));
        return { cancel() {} };
      },
    };
  }

  async function twoCallsFrom(socket: net.Socket): Promise<void> {
    const decoder = new FrameDecoder();
    let answers = 0;
    const done = new Promise<void>((resolve) => socket.on('data', (chunk: Buffer) => decoder.push(chunk, () => ++answers === 2 && resolve())));
    socket.write(Buffer.concat([request(1, 'Counter', 'hit', {}), request(2, 'Counter', 'hit', {})]));
    await done;
  }

  it('tcp://host:port of the remote end, IPv4 and IPv6, one object per connection', async () => {
    for (const [host, shown] of [['127.0.0.1', '127.0.0.1'], ['::1', '[::1]']] as const) {
      const dispatcher = recorder();
      const listener = await tcp().listen(`tcp://${shown}:0`, dispatcher);
      const socket = net.connect({ host, port: portOf(listener.address) });
      await new Promise((resolve) => socket.once('connect', resolve));
      await twoCallsFrom(socket);
      expect(dispatcher.peers[0]).toEqual({ transport: 'tcp', address: `tcp://${shown}:${socket.localPort}` });
      expect(dispatcher.peers[1]).toBe(dispatcher.peers[0]);
      socket.destroy();
      await listener.close();
    }
  });

  it('tls://host:port over TLS, unix://<path listened on> over a unix socket', async () => {
    const key = readFileSync(new URL('./fixtures/localhost-key.pem', import.meta.url));
    const cert = readFileSync(new URL('./fixtures/localhost-cert.pem', import.meta.url));
    const secure = tcp({ tls: { server: { key, cert }, client: { ca: cert, servername: 'localhost' } } });
    const tlsDispatcher = recorder();
    const tlsListener = await secure.listen('tls://127.0.0.1:0', tlsDispatcher);
    const tlsChannel = secure.connect(tlsListener.address);
    await rawCall(tlsChannel, 'Counter', 'hit', {});
    expect(tlsDispatcher.peers[0]).toMatchObject({ transport: 'tls', address: expect.stringMatching(/^tls:\/\/127\.0\.0\.1:\d+$/) });
    expect(tlsDispatcher.peers[0]!.address).not.toBe(tlsListener.address);
    await tlsChannel.close();
    await tlsListener.close();

    const dir = mkdtempSync(join(tmpdir(), 'svc-peer-'));
    try {
      const path = join(dir, 'svc.sock');
      const unix = tcp();
      const unixDispatcher = recorder();
      const unixListener = await unix.listen(`unix://${path}`, unixDispatcher);
      const unixChannel = unix.connect(`unix://${path}`);
      await rawCall(unixChannel, 'Counter', 'hit', {});
      expect(unixDispatcher.peers[0]).toEqual({ transport: 'unix', address: `unix://${path}` });
      await unixChannel.close();
      await unixListener.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a call made from the callback of a call its lost connection failed', () => {
  it('is answered (not written to the dead socket, where it would wait for its deadline)', async () => {
    // A peer that takes the connection and drops it as soon as a request arrives.
    const sockets = new Set<net.Socket>();
    const dropper = net.createServer((socket) => {
      sockets.add(socket);
      socket.once('data', () => socket.destroy());
    });
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
    const port = (dropper.address() as net.AddressInfo).port;
    const channel = tcp({ reconnect: { initialDelay: 5_000, maxDelay: 5_000 } }).connect(`tcp://127.0.0.1:${port}`);
    try {
      let again: Promise<Outcome> | undefined;
      const first = await rawCall(channel, 'Counter', 'add', { n: 1 }, () => {
        again = rawCall(channel, 'Counter', 'add', { n: 2 });
      });
      expect(first.error).toMatchObject({ code: 'UNAVAILABLE' });
      const second = await Promise.race([again!, new Promise<Outcome>((resolve) => setTimeout(() => resolve({ error: new RpcError('DEADLINE_EXCEEDED', 'no answer within 2 s') }), 2_000))]);
      expect(second.error).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
    } finally {
      await channel.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => dropper.close(() => resolve()));
    }
  });
});
