import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Server, silentLogger, staticRegistry } from '@svc/core';
import { encodeFrame, FrameDecoder, FrameKind, type Frame } from '@svc/core/transport';
import { tcp } from '../src/index.js';
import { Echo, portOf } from './helpers.js';

/** Sends raw bytes to the server; resolves with the frames received before the server closed. */
async function sendRaw(port: number, ...chunks: Buffer[]): Promise<{ frames: Frame[]; closedMs: number }> {
  const socket = net.connect(port, '127.0.0.1');
  const frames: Frame[] = [];
  const decoder = new FrameDecoder();
  socket.on('data', (chunk) => decoder.push(chunk, (f) => frames.push(f)));
  await new Promise((resolve) => socket.once('connect', resolve));
  const started = Date.now();
  for (const chunk of chunks) socket.write(chunk);
  await new Promise((resolve) => socket.once('close', resolve));
  return { frames, closedMs: Date.now() - started };
}

function goawayMessage(frames: Frame[]): string {
  const goaway = frames.find((f) => f.kind === FrameKind.GOAWAY);
  return goaway?.message ?? '';
}

describe('bad input on the wire', () => {
  let server: Server;
  let client: Client;
  let port: number;

  beforeAll(async () => {
    server = new Server({ transport: tcp({ maxFrameSize: 64 * 1024 }), logger: silentLogger }).register(new Echo());
    const address = await server.listen('tcp://127.0.0.1:0');
    port = portOf(address);
    client = new Client({ transport: tcp({ maxFrameSize: 64 * 1024 }), registry: staticRegistry({ Echo: [address] }) });
    expect(await client.invoke('Echo', 'echo', { before: true })).toEqual({ before: true });
  });
  afterAll(async () => {
    // The well-behaved client was never disturbed: same connection, still answered.
    expect(await client.invoke('Echo', 'echo', { after: true })).toEqual({ after: true });
    await client.close();
    await server.close();
  });

  it('closes a connection that sends garbage, with a protocol error', async () => {
    const { frames } = await sendRaw(port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(goawayMessage(frames)).toMatch(/protocol error: wrong magic bytes 0x4745/);
    expect(await client.invoke('Echo', 'echo', { still: 'serving' })).toEqual({ still: 'serving' });
  });

  it('refuses an unknown wire version', async () => {
    const frame = encodeFrame({ kind: FrameKind.PING, id: 0 });
    frame[2] = 9;
    const { frames } = await sendRaw(port, frame);
    expect(goawayMessage(frames)).toMatch(/wire version 9 is not supported/);
  });

  it('refuses an oversized frame from its prefix, before buffering it', async () => {
    const prefix = Buffer.alloc(11);
    prefix.write('SV', 0, 'latin1');
    prefix[2] = 1;
    prefix.writeUInt32BE(100 * 1024 * 1024, 3); // claims 100 MiB; nothing more is sent
    prefix.writeUInt32BE(10, 7);
    const { frames, closedMs } = await sendRaw(port, prefix);
    expect(goawayMessage(frames)).toMatch(/exceeds the maximum frame size of 65536 bytes/);
    expect(closedMs).toBeLessThan(1_000);
  });

  it('refuses a header length larger than the frame', async () => {
    const frame = encodeFrame({ kind: FrameKind.PING, id: 0 });
    frame.writeUInt32BE(1_000, 7);
    const { frames } = await sendRaw(port, frame);
    expect(goawayMessage(frames)).toMatch(/header length 1000 does not fit/);
  });

  it('refuses a header that is not protobuf', async () => {
    const header = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const prefix = Buffer.alloc(11);
    prefix.write('SV', 0, 'latin1');
    prefix[2] = 1;
    prefix.writeUInt32BE(4 + header.length, 3);
    prefix.writeUInt32BE(header.length, 7);
    const { frames } = await sendRaw(port, Buffer.concat([prefix, header]));
    expect(goawayMessage(frames)).toMatch(/not a valid protobuf message/);
  });

  it('refuses a request without a service and method', async () => {
    const { frames } = await sendRaw(port, encodeFrame({ kind: FrameKind.REQUEST, id: 1 }));
    expect(goawayMessage(frames)).toMatch(/needs an id, a service and a method/);
  });

  it('drops a truncated frame when the peer hangs up, and keeps serving', async () => {
    const frame = encodeFrame({ kind: FrameKind.REQUEST, id: 1, service: 'Echo', method: 'echo', codec: 'json' }, Buffer.from('{"a":1}'));
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.end(frame.subarray(0, frame.length - 3));
    await new Promise((resolve) => socket.once('close', resolve));
    expect(await client.invoke('Echo', 'echo', { n: 1 })).toEqual({ n: 1 });
  });

  it('answers a request body that is not JSON with INVALID_ARGUMENT, on a connection that stays open', async () => {
    const socket = net.connect(port, '127.0.0.1');
    const decoder = new FrameDecoder();
    const responses: Frame[] = [];
    socket.on('data', (chunk) => decoder.push(chunk, (f) => responses.push(f)));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(encodeFrame({ kind: FrameKind.REQUEST, id: 7, service: 'Echo', method: 'echo', codec: 'json' }, Buffer.from('{not json')));
    socket.write(encodeFrame({ kind: FrameKind.REQUEST, id: 8, service: 'Echo', method: 'echo', codec: 'json' }, Buffer.from('{"ok":1}')));
    const end = Date.now() + 3_000;
    while (responses.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    const byId = new Map(responses.map((f) => [f.id, f]));
    expect(byId.get(7)).toMatchObject({ kind: FrameKind.RESPONSE, status: 3, message: expect.stringContaining('not valid json') });
    expect(byId.get(8)?.status ?? 0).toBe(0);
    expect(Buffer.from(byId.get(8)!.body).toString()).toBe('{"ok":1}');
    socket.destroy();
  });

  it('fails a request too large for a frame with RESOURCE_EXHAUSTED, and keeps the connection', async () => {
    const big = { blob: 'x'.repeat(100 * 1024) };
    const error = await client.invoke('Echo', 'echo', big).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('maximum frame size') });
    expect(await client.invoke('Echo', 'echo', { small: 1 })).toEqual({ small: 1 });
  });
});
