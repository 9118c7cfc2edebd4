import * as net from 'node:net';
import { expect, it } from 'vitest';
import { RpcError, type Metadata } from '@svc/core';
import { Compression, FrameKind, type Dispatcher, type RequestMessage, type ResponseMessage } from '@svc/core/transport';
import { tcp } from '../src/index.js';
import { portOf, until } from './helpers.js';
import { RawPeer, request } from './raw-peer.js';

/** Metadata whose value throws a TypeError when the header writer reads it: a failure that is not an RpcError. */
function poisonedMetadata(): Metadata {
  return Object.defineProperty({}, 'count', { enumerable: true, get: () => { throw new TypeError('not a string'); } }) as Metadata;
}

// Issue 12, item 1 (transport part): no exception while writing a response may reach the wire as status 0.
it('answers a response the header writer throws on with INTERNAL, never with status 0', async () => {
  const dispatcher: Dispatcher = {
    dispatch(req: RequestMessage, replyTo) {
      const response: ResponseMessage = { status: 0, metadata: poisonedMetadata(), codec: req.codec, compression: Compression.NONE, body: Buffer.from('{}') };
      replyTo.reply(req.id, response);
      return { cancel() {} };
    },
  } as Dispatcher;
  const listener = await tcp().listen('tcp://127.0.0.1:0', dispatcher);
  const peer = await RawPeer.connect(portOf(listener.address));
  peer.write(request(1, 'Any', 'thing', {}), request(2, 'Any', 'thing', {}));
  await until(() => peer.frames.filter((f) => f.kind === FrameKind.RESPONSE).length === 2, 2_000);
  for (const response of peer.frames) {
    expect(response).toMatchObject({ kind: FrameKind.RESPONSE, status: 13, message: expect.stringMatching(/the response could not be written to the wire \(not a string\)/) });
  }
  expect(peer.goaway).toBeUndefined(); // the connection stays
  peer.destroy();
  await listener.close();
});

it('fails a request the header writer throws on with an RpcError (INVALID_ARGUMENT), not a TypeError', async () => {
  const dispatcher = { dispatch: () => ({ cancel() {} }) } as unknown as Dispatcher;
  const listener = await tcp().listen('tcp://127.0.0.1:0', dispatcher);
  const channel = tcp().connect(listener.address);
  const outcome = await new Promise<unknown>((resolve) => {
    const req: RequestMessage = { id: 0, service: 'Any', method: 'thing', codec: 'json', compression: Compression.NONE, deadline: 0, metadata: poisonedMetadata(), body: Buffer.from('{}') };
    channel.call(req, (error, response) => resolve(error ?? response));
  });
  expect(outcome).toBeInstanceOf(RpcError);
  expect(outcome).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/the request could not be written to the wire/) });
  await channel.close();
  await listener.close();
});

// Issue 12, item 14: the dial timeout is recognised by identity, not by its message text.
it('fails a call whose dial never completes with the dial timeout error', async () => {
  // Accepts TCP but never answers the TLS handshake: the dial hangs until the timeout.
  const sockets: net.Socket[] = [];
  const mute = net.createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  const port = (mute.address() as net.AddressInfo).port;
  const channel = tcp({ dialTimeout: 200, tls: { client: { rejectUnauthorized: false } } }).connect(`tls://127.0.0.1:${port}`);
  const started = Date.now();
  const error = await new Promise<unknown>((resolve) => {
    const req: RequestMessage = { id: 0, service: 'Any', method: 'thing', codec: 'json', compression: Compression.NONE, deadline: 0, metadata: undefined, body: Buffer.from('{}') };
    channel.call(req, (e, response) => resolve(e ?? response));
  });
  expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  expect(error).toBeInstanceOf(RpcError);
  expect(error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/took longer than the dial timeout of 200 ms/) });
  await channel.close();
  for (const s of sockets) s.destroy();
  mute.close();
});
