import { describe, expect, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, inproc, staticRegistry, type CallContext, type Logger } from '../src/index.js';
import type { ReplyTarget, RequestMessage, ResponseMessage } from '../src/transport/transport.js';
import { Compression } from '../src/wire/header.js';

// A response that cannot be sent must reach the caller as an error, never as a success (issue 12, #1).

@Service('Replies')
class Replies {
  seen: unknown[] = [];

  @Method()
  async numberMetadata(_: unknown, ctx: CallContext): Promise<string> {
    ctx.sendMetadata({ count: 5 as unknown as string });
    return 'unreachable';
  }

  @Method()
  async catchesBadMetadata(_: unknown, ctx: CallContext): Promise<string> {
    try {
      ctx.sendMetadata({ ok: 'yes', count: 5 as unknown as string });
    } catch (error) {
      this.seen.push(error);
    }
    return 'went on';
  }

  @Method()
  async assignsBadMetadata(_: unknown, ctx: CallContext): Promise<string> {
    ctx.responseMetadata = { count: 5 as unknown as string };
    return 'value';
  }

  @Method()
  async errorWithBadMetadata(): Promise<never> {
    throw new RpcError('NOT_FOUND', 'no such thing', { metadata: { retryAfter: 30 as unknown as string } });
  }

  @Method()
  async errorWithBigintDetails(): Promise<never> {
    throw new RpcError('FAILED_PRECONDITION', 'not now', { details: { n: 1n } });
  }

  @Method()
  async fine(): Promise<string> {
    return 'fine';
  }
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const log = (message: string) => warnings.push(message);
  return { warnings, debug() {}, info() {}, warn: log, error: log };
}

async function rig() {
  const t = inproc();
  const logger = recordingLogger();
  const service = new Replies();
  const server = new Server({ transport: t, logger }).register(service);
  const address = await server.listen('inproc://replies');
  const client = new Client({ transport: t, registry: staticRegistry({ Replies: [address] }), timeout: 2_000 });
  return { server, client, logger, service };
}

describe('a response that cannot be encoded', () => {
  it('reaches the caller as INTERNAL naming the key, and is logged once', async () => {
    const { server, client, logger } = await rig();
    let back: unknown;
    const error = await client.invoke('Replies', 'numberMetadata', {}, { onMetadata: (m) => (back = m) }).then(
      (value) => ({ resolved: value }),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/response metadata key 'count'.*number/) });
    expect(back).toBeUndefined();
    expect(logger.warnings.filter((w) => w.includes("'count'"))).toHaveLength(1);
    await server.close();
  });

  it('is refused by ctx.sendMetadata at once, with nothing of it merged', async () => {
    const { server, client, service } = await rig();
    let back: Record<string, string> | undefined;
    expect(await client.invoke('Replies', 'catchesBadMetadata', {}, { onMetadata: (m) => (back = m) })).toBe('went on');
    expect(service.seen).toHaveLength(1);
    expect(service.seen[0]).toBeInstanceOf(RpcError);
    expect(service.seen[0]).toMatchObject({ code: 'INTERNAL', message: expect.stringContaining("'count'") });
    expect(back).toBeUndefined(); // the refused call added nothing, not even its good key
    await server.close();
  });

  it('is caught before the transport when the handler assigns responseMetadata itself', async () => {
    const { server, client, logger } = await rig();
    await expect(client.invoke('Replies', 'assignsBadMetadata', {})).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining("'count'") });
    expect(logger.warnings.filter((w) => w.includes("'count'"))).toHaveLength(1);
    await server.close();
  });

  it('turns an error whose metadata has a number into INTERNAL naming the key', async () => {
    const { server, client } = await rig();
    await expect(client.invoke('Replies', 'errorWithBadMetadata', {})).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining("'retryAfter'") });
    await server.close();
  });

  it('answers an error whose details are not JSON with INTERNAL instead of leaving the call unanswered', async () => {
    const { server, client } = await rig();
    await expect(client.invoke('Replies', 'errorWithBigintDetails', {})).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('FAILED_PRECONDITION') });
    expect(server.inflightCount).toBe(0);
    await server.close();
  });

  it('answers with an error when the transport cannot send the success, never status 0 twice', async () => {
    const { server } = await rig();
    const replies: ResponseMessage[] = [];
    let answered!: () => void;
    const done = new Promise<void>((resolve) => (answered = resolve));
    const replyTo: ReplyTarget = {
      reply(_id, response) {
        replies.push(response);
        if (replies.length === 1) throw new TypeError('The "string" argument must be of type string. Received type number (5)');
        answered();
      },
    };
    const request: RequestMessage = { id: 7, service: 'Replies', method: 'fine', codec: 'json', compression: Compression.NONE, deadline: 0, metadata: undefined, body: Buffer.from('{}') };
    server.dispatch(request, replyTo);
    await done;
    expect(replies.map((r) => r.status)).toEqual([0, 13]);
    expect(replies[1]!.message).toContain('Received type number');
    expect(server.inflightCount).toBe(0);
    await server.close();
  }, 5_000);
});
