/** A stream counts as its node's load while open: a selector that learns picks it and hears of it once, when it is over. */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, inproc, Method, peakEwma, Server, Service, silentLogger, staticRegistry, type Selector, type ServiceNode } from '../src/index.js';
import { StreamsTestService } from '../src/testing/stream-test-service.js';
import type { CallContext } from '../src/server/call-context.js';

interface Heard {
  address: string;
  code: string | undefined;
  latencyMs: number;
}

/** Wraps a selector, recording what it is asked and told. */
function recording(inner: Selector): Selector & { selected: string[]; heard: Heard[] } {
  const selected: string[] = [];
  const heard: Heard[] = [];
  return {
    selected,
    heard,
    select(nodes, call, tried) {
      const node = inner.select(nodes, call, tried);
      selected.push(node.address);
      return node;
    },
    report(node, error, latencyMs) {
      heard.push({ address: node.address, code: error?.code, latencyMs });
      inner.report?.(node, error, latencyMs);
    },
  };
}

/** A server stream that sends nothing until cancelled. */
@Service('Quiet')
class Quiet {
  @Method()
  async *wait(_request: unknown, ctx: CallContext): AsyncGenerator<never> {
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
  }
}

let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

async function cluster(size: number, selector: Selector) {
  const transport = inproc();
  const service = new StreamsTestService();
  const nodes: ServiceNode[] = [];
  for (let i = 0; i < size; i++) {
    const server = new Server({ transport, logger: silentLogger }).register(service).register(new Quiet());
    nodes.push({ address: await server.listen(`inproc://stream-report-${i}-${Math.random()}`) });
    stops.push(() => server.close({ drainTimeout: 100 }));
  }
  const client = new Client({ transport, registry: staticRegistry({ Streams: nodes, Quiet: nodes }), selector });
  stops.push(() => client.close());
  return { client, service };
}

async function count(stream: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of stream) n++;
  return n;
}

describe('streams and a selector that learns', () => {
  it('each stream of each shape is selected once and reported once, cleanly, when it ends', async () => {
    const selector = recording(peakEwma());
    const { client } = await cluster(2, selector);
    expect(await count(client.serverStream('Streams', 'ticks', { tag: 't', n: 3, everyMs: 1 }))).toBe(3);
    expect(await client.clientStream('Streams', 'sum', [{ n: 1 }, { n: 2 }])).toBe(3);
    expect(await count(client.bidiStream('Streams', 'echo', ['a', 'b']))).toBe(2);
    expect(selector.selected).toHaveLength(3);
    expect(selector.heard.map((h) => h.address)).toEqual(selector.selected);
    expect(selector.heard.every((h) => h.code === undefined && h.latencyMs >= 0)).toBe(true);
  });

  it('a stream is its node’s load until it ends: open watches count, and nothing is left counted after', async () => {
    const selector = recording(peakEwma());
    const { client, service } = await cluster(2, selector);
    const watches = [0, 1, 2].map((i) => client.serverStream<{ i: number }>('Streams', 'ticks', { tag: `watch${i}`, everyMs: 5 })[Symbol.asyncIterator]());
    for (const watch of watches) await watch.next();
    expect(inFlight(selector)).toBe(3);
    for (let i = 0; i < 6; i++) await count(client.serverStream('Streams', 'ticks', { tag: `short${i}`, n: 1 }));
    expect(inFlight(selector)).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const watch of watches) await watch.return!(undefined);
    await until(() => [0, 1, 2].every((i) => service.finallies.includes(`watch${i}`)));
    expect(inFlight(selector)).toBe(0);
    // Leaving the loop early ends a stream as CANCELLED, timed to its first message, not its length.
    const ended = selector.heard.slice(-3);
    expect(ended.map((h) => h.code)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
    expect(ended.every((h) => h.latencyMs < 250)).toBe(true);
  });

  it('a stream cancelled before the server said anything reports no latency; a WINDOW counts as an answer', async () => {
    const selector = recording(peakEwma());
    const { client, service } = await cluster(2, selector);
    const controller = new AbortController();
    const quiet = count(client.serverStream('Quiet', 'wait', {}, { signal: controller.signal }));
    const holding = client.clientStream('Streams', 'hold', neverEnding(controller.signal), { signal: controller.signal });
    await until(() => selector.selected.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 40));
    controller.abort();
    await expect(quiet).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(holding).rejects.toMatchObject({ code: 'CANCELLED' });
    await until(() => service.finallies.includes('hold'));
    expect(selector.heard.map((h) => h.code)).toEqual(['CANCELLED', 'CANCELLED']);
    // The server stream sent nothing: how long the caller waited is not the node's latency.
    expect(selector.heard[0]!.latencyMs).toBe(0);
    // The client stream's server granted its window at once: that is the answer timed, not the 40 ms wait.
    expect(selector.heard[1]!.latencyMs).toBeGreaterThan(0);
    expect(selector.heard[1]!.latencyMs).toBeLessThan(40);
  });

  it('a list of one node is still selected, so its report has a pick to match', async () => {
    const selector = recording(peakEwma());
    const { client } = await cluster(1, selector);
    for (let i = 0; i < 3; i++) await count(client.serverStream('Streams', 'ticks', { tag: `one${i}`, n: 2 }));
    expect(selector.selected).toHaveLength(3);
    expect(selector.heard).toHaveLength(3);
  });

  it('a stream the server fails is reported with the server’s error', async () => {
    const selector = recording(peakEwma());
    const { client } = await cluster(2, selector);
    await expect(count(client.serverStream('Streams', 'noSuchMethod', {}))).rejects.toMatchObject({ code: 'UNIMPLEMENTED' });
    expect(selector.heard.map((h) => h.code)).toEqual(['UNIMPLEMENTED']);
  });
});

/** Streams selected and not yet reported: the load a learning selector counts. */
function inFlight(selector: { selected: string[]; heard: Heard[] }): number {
  return selector.selected.length - selector.heard.length;
}

async function* neverEnding(signal: AbortSignal): AsyncGenerator<{ n: number }> {
  yield { n: 1 };
  await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).toBe(true);
}
