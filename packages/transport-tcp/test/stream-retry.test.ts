/** A stream that fails before the server's first frame, in a way that says no handler ran, is opened again on another node (transparent retry). */
import { afterEach, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import { Client, RpcError, Server, silentLogger, staticRegistry, type Filter, type OutgoingCall, type Selector, type ServiceNode } from '@svc/core';
import { StreamsTestService as Streams, failureOf } from '@svc/core/testing';
import { tcp } from '../src/index.js';
import { until } from './helpers.js';

let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

async function serve(options: Parameters<typeof tcp>[0] = {}): Promise<{ service: Streams; address: string; streamsSeen(): number }> {
  const service = new Streams();
  let seen = 0;
  const server = new Server({ transport: tcp(options), logger: silentLogger, drainTimeout: 1_000, filters: [(_call, next) => (seen++, next())] }).register(service);
  const address = await server.listen('tcp://127.0.0.1:0');
  stops.push(() => server.close());
  return { service, address, streamsSeen: () => seen };
}

/** An address where nothing listens: a port taken from the system and given back. */
async function deadAddress(): Promise<string> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `tcp://127.0.0.1:${port}`;
}

/** Always the first node of the list not tried yet, so a test knows where each open goes; records what it is asked and told. */
function inOrder(): Selector & { picks: string[]; reports: { address: string; code: string | undefined }[] } {
  const picks: string[] = [];
  const reports: { address: string; code: string | undefined }[] = [];
  return {
    picks,
    reports,
    select(nodes, _call, tried) {
      const node = nodes.find((n) => !tried.includes(n.address)) ?? nodes[0]!;
      picks.push(node.address);
      return node;
    },
    report(node, error) {
      reports.push({ address: node.address, code: error?.code });
    },
  };
}

function client(nodes: (string | ServiceNode)[], selector: Selector, filters: Filter[] = []): Client {
  const made = new Client({ transport: tcp(), registry: staticRegistry({ Streams: nodes }), selector, logger: silentLogger, filters });
  stops.push(() => made.close());
  return made;
}

/** A node allowing one stream per connection, and a stream that takes `made`'s slot there (pinned: no pick), so the next stream `made` sends it is refused before its handler. */
async function fullNode(): Promise<{ service: Streams; address: string; fill(made: Client): Promise<void> }> {
  const node = await serve({ maxConcurrentStreams: 1 });
  return {
    ...node,
    async fill(made) {
      const watch = made.serverStream('Streams', 'ticks', { tag: 'watch', everyMs: 5 }, { address: node.address })[Symbol.asyncIterator]();
      await watch.next();
      stops.push(async () => void (await watch.return!()));
    },
  };
}

/**
 * A client whose first stream goes to a full node, and whose retry's lookup is held until the
 * test calls `release()` (the first lookup answers at once): the gap between a refusal and the
 * reopen, made as long as a test needs.
 */
async function heldRetry(): Promise<{ made: Client; spare: Awaited<ReturnType<typeof serve>>; lookups: () => number; release: () => void; held: Promise<void> }> {
  const full = await fullNode();
  const spare = await serve();
  let lookups = 0;
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const registry = {
    lookup: (): readonly ServiceNode[] | Promise<readonly ServiceNode[]> => {
      const nodes = [{ address: full.address }, { address: spare.address }];
      return ++lookups === 1 ? nodes : held.then(() => nodes);
    },
  };
  const made = new Client({ transport: tcp(), registry, selector: inOrder(), logger: silentLogger });
  stops.push(() => made.close());
  await full.fill(made);
  return { made, spare, lookups: () => lookups, release, held };
}

describe('streams retried before the server’s first frame', () => {
  it('a server stream refused by a full node (maxConcurrentStreams) runs on the next node; the caller sees only its messages', async () => {
    const full = await fullNode();
    const spare = await serve();
    const selector = inOrder();
    const made = client([full.address, spare.address], selector);
    await full.fill(made);
    const ticks: number[] = [];
    for await (const tick of made.serverStream<{ i: number }>('Streams', 'ticks', { tag: 's', n: 3, everyMs: 1 })) ticks.push(tick.i);
    expect(ticks).toEqual([0, 1, 2]);
    expect(spare.service.finallies).toEqual(['s']);
    expect(full.service.finallies).not.toContain('s');
    expect(selector.picks).toEqual([full.address, spare.address]);
    // Each pick reported once: the refusal to the full node, the clean end to the spare one.
    expect(selector.reports).toEqual([
      { address: full.address, code: 'RESOURCE_EXHAUSTED' },
      { address: spare.address, code: undefined },
    ]);
  });

  it('a client stream refused by a full node sends the messages it had sent again to the next node, in order, then the END', async () => {
    const full = await fullNode();
    const spare = await serve();
    const made = client([full.address, spare.address], inOrder());
    await full.fill(made);
    const sum = await made.clientStream<number>('Streams', 'sum', [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    expect(sum).toBe(10);
  });

  it('a bidi stream refused by a full node echoes every message from the next node, in order, with its source read once', async () => {
    const full = await fullNode();
    const spare = await serve();
    let pulled = 0;
    function* words(): Generator<string> {
      for (const word of ['a', 'b', 'c', 'd', 'e']) {
        pulled++;
        yield word;
      }
    }
    const made = client([full.address, spare.address], inOrder());
    await full.fill(made);
    const echoed: string[] = [];
    for await (const word of made.bidiStream<string>('Streams', 'echo', words())) echoed.push(word);
    expect(echoed).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pulled).toBe(5);
  });

  it('a client stream whose source ends while the retry looks for a node sends its messages and its END once it opens', async () => {
    const { made, lookups, release } = await heldRetry();
    let ended = false;
    async function* numbers(): AsyncGenerator<{ n: number }> {
      yield { n: 1 };
      yield { n: 2 };
      yield { n: 3 };
      // The source ends once the retry has begun, so its END comes while there is no sender.
      await until(() => lookups() === 2);
      ended = true;
    }
    const sum = made.clientStream<number>('Streams', 'sum', numbers());
    await until(() => ended);
    release();
    expect(await sum).toBe(6);
  });

  it('a stream cancelled while its retry looks for a node ends CANCELLED, its source closed (finally ran), and opens nowhere', async () => {
    const { made, spare, lookups, release, held } = await heldRetry();
    let closed = false;
    async function* forever(): AsyncGenerator<{ n: number }> {
      try {
        for (;;) yield { n: 1 };
      } finally {
        closed = true;
      }
    }
    const controller = new AbortController();
    const sum = made.clientStream<number>('Streams', 'sum', forever(), { signal: controller.signal });
    await until(() => lookups() === 2);
    controller.abort();
    expect(await failureOf(sum)).toMatchObject({ code: 'CANCELLED' });
    await until(() => closed);
    release();
    // The retry's lookup answers now; what it would open goes in the same turn, and a REQUEST would reach the spare within a few more.
    await held;
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(spare.streamsSeen()).toBe(0);
  });

  it('a node that refuses connections (not_sent) is passed over for the next, free', async () => {
    const dead = await deadAddress();
    const spare = await serve();
    const ticks: number[] = [];
    for await (const tick of client([dead, spare.address], inOrder()).serverStream<{ i: number }>('Streams', 'ticks', { tag: 'n', n: 2, everyMs: 1 })) ticks.push(tick.i);
    expect(ticks).toEqual([0, 1]);
  });

  it('call filters see one call, whose attemptCount counts the opens', async () => {
    const full = await fullNode();
    const spare = await serve();
    const seen: { calls: number; attempts: number[]; settled: number } = { calls: 0, attempts: [], settled: 0 };
    const counting: Filter = async (call, next) => {
      seen.calls++;
      try {
        return await next();
      } finally {
        seen.settled++;
        seen.attempts.push((call as OutgoingCall).attemptCount);
      }
    };
    const made = client([full.address, spare.address], inOrder(), [counting]);
    await full.fill(made);
    seen.calls = seen.settled = 0;
    seen.attempts = []; // the filling stream is a call too, still open
    expect(await made.clientStream<number>('Streams', 'sum', [{ n: 5 }])).toBe(5);
    expect(seen).toEqual({ calls: 1, attempts: [2], settled: 1 });
  });

  it('with no node left to try, the refusal reaches the caller as it is', async () => {
    const full = await fullNode();
    const made = client([full.address], inOrder());
    await full.fill(made);
    const refused = await failureOf(async () => {
      for await (const _ of made.serverStream('Streams', 'ticks', { tag: 'alone' })) break;
    });
    expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused', message: expect.stringContaining('maxConcurrentStreams') });
  });

  it('a refusal is retried once: a second full node’s refusal reaches the caller', async () => {
    const first = await fullNode();
    const second = await fullNode();
    const spare = await serve();
    const selector = inOrder();
    const made = client([first.address, second.address, spare.address], selector);
    await first.fill(made);
    await second.fill(made);
    const refused = await failureOf(async () => {
      for await (const _ of made.serverStream('Streams', 'ticks', { tag: 'twice' })) break;
    });
    expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused' });
    expect(selector.picks).toEqual([first.address, second.address]);
    expect(spare.service.finallies).toEqual([]);
  });

  it('a stream pinned to an address is not moved', async () => {
    const full = await fullNode();
    const spare = await serve();
    const made = client([full.address, spare.address], inOrder());
    await full.fill(made);
    const refused = await failureOf(async () => {
      for await (const _ of made.serverStream('Streams', 'ticks', { tag: 'pinned' }, { address: full.address })) break;
    });
    expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused' });
    expect(spare.service.finallies).toEqual([]);
  });

  it('a stream the server has answered is never moved: a node shut down mid-stream ends the loop with UNAVAILABLE', async () => {
    const first = await serve();
    const spare = await serve();
    const made = client([first.address, spare.address], inOrder());
    const ticks: number[] = [];
    const ended = failureOf(async () => {
      for await (const tick of made.serverStream<{ i: number }>('Streams', 'ticks', { tag: 'answered', everyMs: 5 })) ticks.push(tick.i);
    });
    await until(() => ticks.length >= 2);
    await stops.shift()!(); // the first node's server closes (its GOAWAY, then the connection)
    const error = await ended;
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', progress: 'processed' });
    // The first node's handler was stopped by its drain (its finally runs at its next yield); the spare never saw the stream.
    await until(() => first.service.finallies.includes('answered'));
    expect(spare.service.finallies).toEqual([]);
  });
});
