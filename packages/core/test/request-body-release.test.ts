import { describe, expect, it } from 'vitest';
import { Method, Server, Service, inproc } from '../src/index.js';
import type { ReplyTarget, RequestMessage, ResponseMessage } from '../src/transport/transport.js';
import { Compression } from '../src/wire/header.js';

// A request's body is a view of what the transport read (over NATS, the whole message of several
// calls): once decoded, the server lets it go, so a slow handler does not keep it alive.

@Service('Slow')
class Slow {
  release: (() => void) | undefined;

  @Method()
  async hold(request: { pad: string }): Promise<number> {
    await new Promise<void>((resolve) => (this.release = resolve));
    return request.pad.length;
  }
}

describe('the request body once decoded', () => {
  it('is released while the handler runs, and the handler still has its decoded request', async () => {
    const slow = new Slow();
    const server = new Server({ transport: inproc() }).register(slow);
    const body = Buffer.from(JSON.stringify({ pad: 'x'.repeat(10_000) }));
    const request: RequestMessage = { id: 1, service: 'Slow', method: 'hold', codec: 'json', compression: Compression.NONE, deadline: 0, metadata: undefined, body };
    const answered = new Promise<ResponseMessage>((resolve) => {
      const replyTo: ReplyTarget = { reply: (_id, response) => resolve(response) };
      server.dispatch(request, replyTo);
    });
    for (let i = 0; i < 100 && slow.release === undefined; i++) await new Promise((r) => setImmediate(r));
    expect(slow.release).toBeDefined();
    expect(request.body.length).toBe(0);
    slow.release!();
    const response = await answered;
    expect(response.status).toBe(0);
    expect(JSON.parse(Buffer.from(response.body).toString())).toBe(10_000);
    await server.close();
  });
});
