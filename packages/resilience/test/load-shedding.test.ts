import { afterEach, describe, expect, it, vi } from 'vitest';
import { Client, Method, RpcError, Server, Service, silentLogger, staticRegistry, PUSHBACK_METADATA_KEY, type Call } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { loadShedder, type LoadShedder } from '../src/load-shedder.js';
import type { SheddingOptions } from '../src/load-shedding-options.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Blocks the event loop, as a handler that computes would. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

@Service('Echo')
class Echo {
  runs = 0;
  @Method()
  async echo(args: { n: number }): Promise<{ n: number }> {
    this.runs++;
    return args;
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setup(options?: SheddingOptions): Promise<{ echo: Echo; client: Client; shedder: LoadShedder }> {
  const echo = new Echo();
  const shedder = loadShedder(options);
  const server = new Server({ transport: tcp(), filters: [shedder.filter], logger: silentLogger }).register(echo);
  const address = await server.listen('tcp://127.0.0.1:0');
  const client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [address] }), logger: silentLogger });
  closers.push(
    async () => server.close({ drainTimeout: 200 }),
    async () => shedder.close(),
    async () => client.close(),
  );
  return { echo, client, shedder };
}

const settle = (promises: Promise<unknown>[]) =>
  Promise.all(promises.map((p) => p.then(() => 'ok' as const, (error: unknown) => error as RpcError)));

describe('load shedder', () => {
  it('passes every call while the loop keeps up', async () => {
    const { echo, client, shedder } = await setup();
    for (let round = 0; round < 10; round++) {
      const results = await settle(Array.from({ length: 20 }, (_, n) => client.invoke('Echo', 'echo', { n })));
      expect(results.every((r) => r === 'ok')).toBe(true);
    }
    expect(echo.runs).toBe(200);
    expect(shedder.state()).toMatchObject({ shedding: false, shedShare: 0, accepted: 200, refused: 0 });
  });

  it('refuses new calls unrun (progress refused, pushback) while the loop is stuck, and stops once it recovers', async () => {
    const { echo, client, shedder } = await setup({ targetDelayMs: 10 });
    await client.invoke('Echo', 'echo', { n: -1 }); // connected
    // 200 calls are written; the loop is then stuck 150 ms before the server reads them.
    const calls = Array.from({ length: 200 }, (_, n) => client.invoke('Echo', 'echo', { n }, { timeout: 5000 }));
    await new Promise((resolve) => setImmediate(resolve));
    busy(150);
    const results = await settle(calls);
    const refused = results.filter((r): r is RpcError => r !== 'ok');
    expect(refused.length).toBeGreaterThan(100);
    expect(refused.length).toBeLessThan(200); // some always pass (random, at most maxShedShare)
    for (const error of refused) {
      expect(error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused', retryable: true });
      expect(error.metadata?.[PUSHBACK_METADATA_KEY]).toBe('100');
    }
    expect(refused[0]!.message).toMatch(/the server is overloaded \(event-loop delay \d+\.\d ms, target 10 ms\) and refused Echo\.echo unrun/);
    expect(echo.runs).toBe(1 + 200 - refused.length);
    const during = shedder.state();
    expect(during.refused).toBe(refused.length);
    expect(during.eventLoopDelayMs).toBeGreaterThan(10);

    // The loop is free again: the delay falls, shedding stops, every call passes.
    for (let i = 0; i < 100 && shedder.state().shedding; i++) await sleep(10);
    expect(shedder.state()).toMatchObject({ shedding: false, shedShare: 0 });
    const after = await settle(Array.from({ length: 50 }, (_, n) => client.invoke('Echo', 'echo', { n })));
    expect(after.every((r) => r === 'ok')).toBe(true);
  });

  it('caps the calls in flight with maxInFlight', async () => {
    @Service('Slow')
    class Slow {
      @Method()
      async wait(args: { ms: number }): Promise<number> {
        await sleep(args.ms);
        return args.ms;
      }
    }
    const shedder = loadShedder({ maxInFlight: 3 });
    const server = new Server({ transport: tcp(), filters: [shedder.filter], logger: silentLogger }).register(new Slow());
    const address = await server.listen('tcp://127.0.0.1:0');
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Slow: [address] }), logger: silentLogger });
    closers.push(
      async () => server.close({ drainTimeout: 200 }),
      async () => shedder.close(),
      async () => client.close(),
    );
    const results = await settle(Array.from({ length: 6 }, () => client.invoke('Slow', 'wait', { ms: 60 })));
    expect(results.filter((r) => r === 'ok')).toHaveLength(3);
    const refused = results.filter((r): r is RpcError => r !== 'ok');
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused', message: expect.stringContaining("maxInFlight") });
    expect(shedder.state().inFlight).toBe(0);
    expect(await client.invoke('Slow', 'wait', { ms: 1 })).toBe(1);
  });

  it('lets client-side calls and events through untouched', async () => {
    const shedder = loadShedder({ maxInFlight: 1 });
    closers.push(async () => shedder.close());
    const signal = new AbortController().signal;
    const clientCall = { side: 'client', kind: 'call', service: 'S', method: 'm', request: 0, metadata: {}, deadline: 0, signal } as Call;
    const event = { ...clientCall, side: 'server', kind: 'event' } as Call;
    const never = new Promise(() => {});
    void shedder.filter(clientCall, () => never);
    void shedder.filter(event, () => never);
    expect(await shedder.filter(clientCall, async () => 'client')).toBe('client');
    expect(await shedder.filter(event, async () => 'event')).toBe('event');
    expect(shedder.state()).toMatchObject({ accepted: 0, refused: 0, inFlight: 0 });
  });

  it('refuses bad options when made, naming the key', () => {
    const refused = (options: unknown) => {
      try {
        loadShedder(options as SheddingOptions).close();
      } catch (error) {
        return error as RpcError;
      }
      throw new Error('accepted');
    };
    expect(refused({ targetDelayMS: 5 })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('loadShedder.targetDelayMS: unknown option') });
    expect(refused({ targetDelayMs: 0 }).message).toContain('loadShedder.targetDelayMs');
    expect(refused({ sampleIntervalMs: -1 }).message).toContain('loadShedder.sampleIntervalMs');
    expect(refused({ smoothingMs: Infinity }).message).toContain('loadShedder.smoothingMs');
    expect(refused({ maxShedShare: 1.5 }).message).toContain('loadShedder.maxShedShare');
    expect(refused({ maxInFlight: 2.5 }).message).toContain('loadShedder.maxInFlight');
    expect(refused({ pushbackMs: '100' }).message).toContain('loadShedder.pushbackMs');
    expect(refused('fast').message).toContain('expected an options object');
  });

  it('samples with one timer, and close() leaves none', () => {
    vi.useFakeTimers();
    try {
      const before = vi.getTimerCount();
      const shedder = loadShedder({ sampleIntervalMs: 10 });
      expect(vi.getTimerCount()).toBe(before + 1);
      vi.advanceTimersByTime(10); // the sampler ran and set its immediate, to time the turn after it
      shedder.close();
      expect(vi.getTimerCount()).toBe(before);
      vi.advanceTimersByTime(100);
      expect(shedder.state().shedding).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
