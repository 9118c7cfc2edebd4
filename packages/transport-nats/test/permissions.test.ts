import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, staticRegistry, type Logger } from '@svc/core';
import { nats } from '../src/index.js';
import { NatsServerProcess } from '../src/testing/index.js';

@Service('Slow')
class Slow {
  @Method()
  /** Answers after `ms`, with `grow` bytes of padding. */
  async wait(args: { ms: number; grow?: number }): Promise<{ ms: number; pad?: string }> {
    await new Promise((resolve) => setTimeout(resolve, args.ms));
    return args.grow ? { ms: args.ms, pad: 'x'.repeat(args.grow) } : { ms: args.ms };
  }

  @Method()
  async *echo(messages: AsyncIterable<unknown>): AsyncGenerator<unknown> {
    for await (const message of messages) yield message;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'svc-nats-perm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A nats-server whose service user `svc` may publish only where `publish` says, plus answers
 * (allow_responses) when `responses` is given; the client user `cli` calls and reads its inbox.
 */
async function natsWith(publish: string, responses?: string, extra = ''): Promise<NatsServerProcess> {
  const file = join(dir, `nats-${Math.random().toString(36).slice(2)}.conf`);
  const allowResponses = responses === undefined ? '' : `, allow_responses: ${responses}`;
  writeFileSync(
    file,
    `${extra}
authorization {
  users = [
    { user: svc, password: s, permissions: { subscribe: ">", publish: ${publish}${allowResponses} } }
    { user: cli, password: c, permissions: { subscribe: "_INBOX.>", publish: "svc.>" } }
  ]
}
`,
  );
  return NatsServerProcess.start(['-c', file]);
}

/** What the server logged, by level. */
function recordingLogger(): Logger & { infos: string[]; warnings: string[] } {
  const infos: string[] = [];
  const warnings: string[] = [];
  return { infos, warnings, debug: () => {}, info: (m) => infos.push(m), warn: (m) => warnings.push(m), error: (m) => warnings.push(m) };
}

async function withService(natsd: NatsServerProcess, run: (client: Client, logger: ReturnType<typeof recordingLogger>) => Promise<void>, timeout = 3_000): Promise<void> {
  const logger = recordingLogger();
  const server = new Server({ transport: nats({ user: 'svc', pass: 's' }), logger }).register(new Slow());
  const client = new Client({ transport: nats({ user: 'cli', pass: 'c' }), registry: staticRegistry({ Slow: [natsd.url] }), timeout });
  try {
    await server.listen(natsd.url);
    await run(client, logger);
  } finally {
    await client.close();
    await server.close();
    await natsd.dispose();
  }
}

/** Calls made in one tick travel in one message; their handlers finish at different times. */
function staggered(client: Client, delays: number[]): Promise<PromiseSettledResult<{ ms: number }>[]> {
  return Promise.allSettled(delays.map((ms) => client.invoke<{ ms: number }>('Slow', 'wait', { ms })));
}

function outcomes(results: PromiseSettledResult<{ ms: number }>[]): (number | string)[] {
  return results.map((r) => (r.status === 'fulfilled' ? r.value.ms : (r.reason as RpcError).code));
}

describe('a service whose NATS user may only answer what it receives (allow_responses)', () => {
  for (const responses of ['true', '{ max: 16 }']) {
    it(`answers every call of a message whose handlers finish at different times (allow_responses: ${responses})`, async () => {
      await withService(await natsWith('["$SRV.>"]', responses), async (client, logger) => {
        const delays = [0, 20, 40, 60, 80, 100, 120, 140];
        expect(outcomes(await staggered(client, delays))).toEqual(delays);
        expect(logger.infos.join('\n')).toContain('answered together');
      });
    });
  }

  it('answers the calls of one message together, when the slowest is done', async () => {
    await withService(await natsWith('["$SRV.>"]', 'true'), async (client) => {
      const started = Date.now();
      const fast = client.invoke('Slow', 'wait', { ms: 0 }).then(() => Date.now() - started);
      const slow = client.invoke('Slow', 'wait', { ms: 300 });
      await slow;
      expect(await fast).toBeGreaterThanOrEqual(290);
    });
  });

  it('turns the largest answers into RESOURCE_EXHAUSTED when together they exceed max_payload', async () => {
    await withService(await natsWith('["$SRV.>"]', 'true', 'max_payload: 4096'), async (client) => {
      // Small requests travel in one message; their answers of 1.5 KB each do not fit in one.
      const results = await Promise.allSettled([0, 1, 2, 3].map((ms) => client.invoke<{ ms: number }>('Slow', 'wait', { ms, grow: 1500 })));
      const failed = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as RpcError);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
      expect(failed.map((e) => e.code)).toEqual(['RESOURCE_EXHAUSTED', 'RESOURCE_EXHAUSTED']);
      expect(failed[0]!.message).toContain('only one reply per message (allow_responses)');
    });
  });

  it('refuses streams at once with FAILED_PRECONDITION, naming the permission they need', async () => {
    await withService(await natsWith('["$SRV.>"]', 'true'), async (client, logger) => {
      const error = (await (async () => {
        for await (const _ of client.bidiStream('Slow', 'echo', [{ n: 1 }]));
      })().catch((e: unknown) => e)) as RpcError;
      expect(error).toMatchObject({ code: 'FAILED_PRECONDITION', progress: 'refused', message: expect.stringContaining('publish to _INBOX.>') });
      expect(logger.infos.join('\n')).toContain('streams are refused');
    });
  });

  it('switches to answering together when the NATS server refuses an answer, and says so', async () => {
    // The start-up check publishes to `_INBOX.<nuid>.0`, which this user may; real answers go to `.1`, `.2`, …
    await withService(
      await natsWith('["$SRV.>", "_INBOX.*.0"]', 'true'),
      async (client, logger) => {
        const first = outcomes(await staggered(client, [0, 100]));
        expect(first).toEqual([0, 'DEADLINE_EXCEEDED']);
        expect(logger.warnings.join('\n')).toContain('refused an answer');
        const delays = [0, 40, 80];
        expect(outcomes(await staggered(client, delays))).toEqual(delays);
      },
      1_000,
    );
  });
});

describe('a service that may not answer at all', () => {
  it('lets the calls run into their deadlines and says why, once', async () => {
    await withService(
      await natsWith('["$SRV.>"]'),
      async (client, logger) => {
        expect(outcomes(await staggered(client, [0, 10]))).toEqual(['DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED']);
        expect(outcomes(await staggered(client, [0]))).toEqual(['DEADLINE_EXCEEDED']);
        expect(logger.warnings.filter((w) => w.includes('may not answer at all'))).toHaveLength(1);
      },
      500,
    );
  });
});

describe('a service allowed to publish to callers’ inboxes', () => {
  it('answers each call of a message as soon as it is done, and logs nothing about it', async () => {
    await withService(await natsWith('["$SRV.>", "_INBOX.>"]'), async (client, logger) => {
      const started = Date.now();
      const fast = client.invoke('Slow', 'wait', { ms: 0 }).then(() => Date.now() - started);
      const slow = client.invoke('Slow', 'wait', { ms: 300 });
      expect(await fast).toBeLessThan(200);
      await slow;
      expect(logger.infos.join('\n')).not.toContain('answered together');
      expect(logger.warnings).toEqual([]);
    });
  });

  it('streams both ways to a client that may subscribe only to its own inbox (_INBOX.>) and publish only to svc.>', async () => {
    await withService(await natsWith('["$SRV.>", "_INBOX.>"]'), async (client) => {
      const sent = Array.from({ length: 500 }, (_, i) => ({ i, pad: 'p'.repeat(i) }));
      const back: unknown[] = [];
      for await (const message of client.bidiStream('Slow', 'echo', sent)) back.push(message);
      expect(back).toEqual(sent);
    });
  });
});
