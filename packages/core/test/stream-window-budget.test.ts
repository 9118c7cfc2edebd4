/** A grown stream window is drawn from its side's budget and given back however the stream ends, on the client and on the server. */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, inproc, Server, silentLogger, staticRegistry } from '../src/index.js';
import { ConformanceService, failureOf, steady, until } from '../src/testing/index.js';
import { INITIAL_STREAM_WINDOW } from '../src/stream/outbound-credit.js';
import type { WindowBudget } from '../src/stream/window-budget.js';

const BUDGET = 16 * INITIAL_STREAM_WINDOW;

let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.reverse()) await stop();
  stops = [];
});

async function rig() {
  const transport = inproc();
  const service = new ConformanceService();
  const server = new Server({ transport, logger: silentLogger, streamWindowBudget: BUDGET }).register(service);
  const address = await server.listen(`inproc://window-budget-${Math.random()}`);
  const client = new Client({ transport, registry: staticRegistry({ Conformance: [address] }), streamWindow: INITIAL_STREAM_WINDOW, streamWindowBudget: BUDGET });
  stops.push(() => server.close({ drainTimeout: 100 }), () => client.close());
  // Internal: what the two sides have left to grow windows by.
  const clientBudget = (client as unknown as { streamOwner: { windowBudget: WindowBudget } }).streamOwner.windowBudget;
  return { service, server, client, clientBudget };
}

type Ending = 'all read' | 'loop left' | 'signal' | 'deadline';

describe('the window budget', () => {
  for (const ending of ['all read', 'loop left', 'signal', 'deadline'] as Ending[]) {
    it(`a server stream's client window gives its growth back when the stream ends (${ending})`, async () => {
      const { service, client, clientBudget } = await rig();
      const tag = `budget-${ending}`;
      const controller = new AbortController();
      const options = ending === 'deadline' ? { timeout: 400 } : { signal: controller.signal };
      let consumed = 0;
      let grown = false;
      const ahead = () => (service.produced.get(tag) ?? 0) - consumed;
      let error: unknown;
      try {
        for await (const _ of client.serverStream('Conformance', 'count', { n: 100, pad: 16_000, tag }, options)) {
          if (++consumed % 20 !== 1) continue;
          // A pause until the producer spent the window, then fast reads: the window grows.
          await steady(ahead);
          grown ||= clientBudget.available < BUDGET;
          if (!grown || consumed < 41) continue;
          if (ending === 'loop left') break;
          if (ending === 'signal') controller.abort();
          // The deadline (400 ms) ends the stream while the consumer is here: the growth goes back then.
          if (ending === 'deadline') await until(() => clientBudget.available === BUDGET);
        }
      } catch (e) {
        error = e;
      }
      expect(grown).toBe(true);
      if (ending === 'all read' || ending === 'loop left') expect(error).toBeUndefined();
      if (ending === 'all read') expect(consumed).toBe(100);
      if (ending === 'signal') expect(error).toMatchObject({ code: 'CANCELLED' });
      if (ending === 'deadline') expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      expect(clientBudget.available).toBe(BUDGET);
    });
  }

  it('a stream\'s own maxStreamWindow caps its growth; one out of range fails the stream with INVALID_ARGUMENT', async () => {
    const { service, client, clientBudget } = await rig();
    const tag = 'budget-own-max';
    let consumed = 0;
    let drawn = 0;
    const ahead = () => (service.produced.get(tag) ?? 0) - consumed;
    for await (const _ of client.serverStream('Conformance', 'count', { n: 200, pad: 16_000, tag }, { maxStreamWindow: 2 * INITIAL_STREAM_WINDOW })) {
      if (++consumed % 20 !== 1) continue;
      await steady(ahead);
      drawn = Math.max(drawn, BUDGET - clientBudget.available);
      if (consumed > 100) break;
    }
    expect(drawn).toBe(INITIAL_STREAM_WINDOW); // grew once, from 64 to 128 KiB, and no further
    expect(clientBudget.available).toBe(BUDGET);
    const error = await failureOf(async () => {
      for await (const _ of client.serverStream('Conformance', 'count', { n: 1 }, { maxStreamWindow: 1_000 }));
    });
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('maxStreamWindow') });
  });

  it('a client stream\'s server window gives its growth back when the stream ends, and when it is cancelled', async () => {
    const { service, server, client } = await rig();
    const pad = 'w'.repeat(64_000);
    for (const cancelled of [false, true]) {
      const tag = `budget-client-${cancelled}`;
      const controller = new AbortController();
      let produced = 0;
      let grown = false;
      async function* messages() {
        // The server pauses on every 20th message and takes the others as fast as they come.
        for (; produced < 100; produced++) {
          grown ||= server.windowBudget.available < BUDGET;
          if (grown && cancelled) controller.abort();
          yield { n: 1, tag, pad, readEveryMs: produced % 20 === 19 ? 50 : undefined };
        }
      }
      const outcome = await client.clientStream('Conformance', 'sum', messages(), { signal: controller.signal }).catch((e: unknown) => e);
      expect(grown).toBe(true);
      if (cancelled) expect(outcome).toMatchObject({ code: 'CANCELLED' });
      else expect(outcome).toEqual({ total: 100, count: 100 });
      await new Promise((resolve) => setImmediate(resolve));
      expect(server.windowBudget.available).toBe(BUDGET);
      expect(service.produced.get(`read:${tag}`)).toBeGreaterThan(0);
    }
  });
});
