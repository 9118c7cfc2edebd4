import { describe, expect, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, silentLogger, staticRegistry } from '../src/index.js';
import type { Channel, RequestMessage, StreamEnd, StreamReceiver, StreamSender, Transport } from '../src/transport/transport.js';
import { DEFAULT_STREAM_WINDOW, messageCost } from '../src/stream/outbound-credit.js';
import { until } from '../src/testing/until.js';

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

@Service('Hold')
class Hold {
  /** Never reads its messages, so nothing is granted back. */
  @Method()
  async still(_messages: AsyncIterable<unknown>, ctx: { signal: AbortSignal }): Promise<number> {
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    return 0;
  }
}

describe('a peer that ignores stream credit', () => {
  it('a client sending beyond the window gets an END with RESOURCE_EXHAUSTED, and the handler is stopped', async () => {
    const server = new Server({ transport: [], logger: silentLogger }).register(new Hold());
    const ends: StreamEnd[] = [];
    const sender: StreamSender = { message() {}, window() {}, end: (end) => void ends.push(end), cancel() {} };
    const request: RequestMessage = { id: 1, service: 'Hold', method: 'still', codec: 'json', compression: 0, deadline: 0, metadata: undefined, body: new Uint8Array(0), stream: 2 };
    const receiver = server.dispatchStream(request, sender);
    await until(() => server.inflightCount === 1);
    const message = json({ pad: 'p'.repeat(1_000) });
    for (let i = 0; i < 1_000 && ends.length === 0; i++) receiver.message(message);
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ status: 8, message: expect.stringContaining(`${DEFAULT_STREAM_WINDOW}-byte window`) });
    expect(server.inflightCount).toBe(0);
  });

  it('a server sending beyond the window fails the loop with RESOURCE_EXHAUSTED and is sent a CANCEL', async () => {
    let cancelled = 0;
    // A transport whose "server" pours 1 MB into a stream at once, never waiting for credit.
    const channel: Channel = {
      address: 'fake://pour',
      call: () => 0,
      cancel() {},
      async close() {},
      openStream(_request: RequestMessage, receiver: StreamReceiver): StreamSender {
        queueMicrotask(() => {
          const message = json('q'.repeat(1_000));
          for (let i = 0; i < 1_000; i++) receiver.message(message);
        });
        return { message() {}, window() {}, end() {}, cancel: () => void cancelled++ };
      },
    };
    const transport: Transport = { schemes: ['fake'], listen: () => Promise.reject(new Error('no')), connect: () => channel };
    const client = new Client({ transport, registry: staticRegistry({ Pour: ['fake://pour'] }) });
    let seen = 0;
    const error = await (async () => {
      try {
        for await (const _ of client.serverStream('Pour', 'it', {})) {
          seen++;
          await new Promise((resolve) => setTimeout(resolve, 1)); // a slow consumer: nothing is granted yet
        }
      } catch (e) {
        return e as RpcError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect(seen).toBe(Math.floor(DEFAULT_STREAM_WINDOW / messageCost(1_002))); // the window's worth, and not one more
    expect(cancelled).toBe(1);
    await client.close();
  });

  it('a transport without streams fails a stream with UNIMPLEMENTED, not_sent', async () => {
    const channel: Channel = { address: 'plain://x', call: () => 0, cancel() {}, async close() {} };
    const transport: Transport = { schemes: ['plain'], listen: () => Promise.reject(new Error('no')), connect: () => channel };
    const client = new Client({ transport, registry: staticRegistry({ S: ['plain://x'] }) });
    await expect(client.clientStream('S', 'm', [1, 2])).rejects.toMatchObject({ code: 'UNIMPLEMENTED', progress: 'not_sent' });
    await client.close();
  });
});
