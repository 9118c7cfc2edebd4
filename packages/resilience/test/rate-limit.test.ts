import { afterEach, describe, expect, it, vi } from 'vitest';
import { Client, Method, PUSHBACK_METADATA_KEY, RpcError, Server, Service, silentLogger, staticRegistry, type Call, type Filter } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { rateLimit, type RateLimiter } from '../src/rate-limit.js';
import type { RateLimitOptions } from '../src/rate-limit-options.js';

@Service('Limited')
class Limited {
  runs = 0;
  @Method()
  async hit(): Promise<{ ok: true }> {
    this.runs++;
    return { ok: true };
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const close of closers.splice(0).reverse()) await close();
});

/** A real TCP server with the limiter (and any filters around it), and a client to it. */
async function serve(limiter: RateLimiter, options: { outer?: Filter[]; clientFilters?: Filter[] } = {}) {
  const service = new Limited();
  const server = new Server({ transport: tcp(), filters: [...(options.outer ?? []), limiter.filter], logger: silentLogger }).register(service);
  const address = await server.listen('tcp://127.0.0.1:0');
  const client = new Client({ transport: tcp(), registry: staticRegistry({ Limited: [address] }), filters: options.clientFilters ?? [], logger: silentLogger });
  closers.push(
    () => server.close(),
    () => client.close(),
    () => limiter.close(),
  );
  return { service, client, call: (metadata?: Record<string, string>, extra: { timeout?: number; signal?: AbortSignal } = {}) => client.invoke('Limited', 'hit', {}, { ...extra, ...(metadata ? { metadata } : {}) }) };
}

async function failure(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error('the call succeeded');
}

/** A call as a filter sees it, for the tests that step a fake clock through one budget. */
function callOf(metadata: Record<string, string> = {}, side: 'client' | 'server' = 'client'): Call {
  return { side, kind: 'call', service: 'Limited', method: 'hit', request: {}, metadata, deadline: 0, signal: new AbortController().signal };
}

/** Runs the filter once: 'ok' when next() was reached, else the refusal. */
async function pass(limiter: RateLimiter, call: Call = callOf()): Promise<'ok' | RpcError> {
  try {
    await limiter.filter(call, async () => 'ok');
    return 'ok';
  } catch (error) {
    return error as RpcError;
  }
}

describe('rateLimit on a server', () => {
  it('serves R calls/s under 10× overload and refuses the rest before any handler runs', async () => {
    // 200 calls/s in bursts of 20: a client that sends as fast as it can from 64 concurrent loops does several thousand calls/s here.
    const reservoir = 20;
    const refreshIntervalMs = 100;
    const rate = (reservoir * 1000) / refreshIntervalMs;
    const limiter = rateLimit({ reservoir, refreshIntervalMs });
    const { service, call } = await serve(limiter);
    let served = 0;
    let refused = 0;
    const other: unknown[] = [];
    const started = performance.now();
    const end = started + 3000;
    const loop = async () => {
      while (performance.now() < end) {
        try {
          await call();
          served++;
        } catch (error) {
          if (RpcError.is(error, 'RESOURCE_EXHAUSTED') && error.progress === 'refused' && Number(error.metadata?.[PUSHBACK_METADATA_KEY]) >= 1) refused++;
          else other.push(error);
        }
      }
    };
    await Promise.all(Array.from({ length: 64 }, loop));
    const seconds = (performance.now() - started) / 1000;
    const expected = reservoir + rate * seconds;
    expect(other).toEqual([]);
    expect(served + refused).toBeGreaterThan(10 * rate * seconds); // it really was 10× overload
    expect(service.runs).toBe(served); // no handler ran for a refused call
    expect(Math.abs(served - expected) / expected).toBeLessThan(0.05);
  });

  it('names the scope and the limit, with a pushback, and counts per caller metadata key separately', async () => {
    const limiter = rateLimit({ key: { metadata: 'x-api-key' }, reservoir: 3, refreshIntervalMs: 60_000 });
    const { service, call } = await serve(limiter);
    for (let i = 0; i < 3; i++) await call({ 'x-api-key': 'alice' });
    const refusal = await failure(call({ 'x-api-key': 'alice' }));
    expect(refusal.code).toBe('RESOURCE_EXHAUSTED');
    expect(refusal.progress).toBe('refused');
    expect(refusal.message).toContain("rate limit of each caller ('x-api-key') of Limited (3 calls per 60000 ms)");
    expect(refusal.message).not.toContain('alice'); // the value may be a secret
    expect(Number(refusal.metadata?.[PUSHBACK_METADATA_KEY])).toBeGreaterThan(19_000);
    for (let i = 0; i < 3; i++) await call({ 'x-api-key': 'bob' });
    expect((await failure(call({ 'x-api-key': 'bob' }))).code).toBe('RESOURCE_EXHAUSTED');
    // Calls without the key share the caller '' budget.
    for (let i = 0; i < 3; i++) await call();
    expect((await failure(call())).code).toBe('RESOURCE_EXHAUSTED');
    expect(service.runs).toBe(9);
  });

  it('per method by default, per service when asked', async () => {
    const perMethod = rateLimit({ minTimeMs: 60_000 });
    expect(await pass(perMethod)).toBe('ok');
    expect(await pass(perMethod, { ...callOf(), method: 'other' })).toBe('ok');
    const second = await pass(perMethod);
    expect(second).toBeInstanceOf(RpcError);
    expect((second as RpcError).message).toContain('rate limit of Limited.hit (1 call per 60000 ms)');
    const perService = rateLimit({ key: 'service', minTimeMs: 60_000 });
    expect(await pass(perService)).toBe('ok');
    expect((await pass(perService, { ...callOf(), method: 'other' })) as RpcError).toBeInstanceOf(RpcError);
    await perMethod.close();
    await perService.close();
  });

  it('queues up to `queue` calls, refuses one that would wait past maxWaitMs or its deadline', async () => {
    const limiter = rateLimit({ minTimeMs: 100, queue: 2, maxWaitMs: 250 });
    const { service, call } = await serve(limiter);
    const started = performance.now();
    const results = await Promise.allSettled([call(), call(), call(), call()]);
    const elapsed = performance.now() - started;
    expect(results.slice(0, 3).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const fourth = (results[3] as PromiseRejectedResult).reason as RpcError;
    expect(fourth.message).toContain('its queue of 2 waiting calls was full');
    expect(elapsed).toBeGreaterThanOrEqual(195); // the third waited for its slot 200 ms on
    expect(service.runs).toBe(3);

    const short = rateLimit({ minTimeMs: 100, queue: 5, maxWaitMs: 150 });
    const second = await serve(short);
    const settled = await Promise.allSettled([second.call(), second.call(), second.call()]);
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(((settled[2] as PromiseRejectedResult).reason as RpcError).message).toMatch(/would have waited 2\d\d ms for a slot, longer than maxWaitMs 150/);

    const patient = rateLimit({ minTimeMs: 200, queue: 5, maxWaitMs: 1000 });
    const third = await serve(patient);
    await third.call();
    const late = await failure(third.call(undefined, { timeout: 100 }));
    expect(late.code).toBe('RESOURCE_EXHAUSTED');
    expect(late.message).toMatch(/would have waited \d+ ms for a slot, past its deadline/);
    expect(third.service.runs).toBe(1);
  });

  it('a cancelled queued call leaves the queue at once: its finally runs and the slot is given back', async () => {
    let finallies = 0;
    const outer: Filter = async (_call, next) => {
      try {
        return await next();
      } finally {
        finallies++;
      }
    };
    const limiter = rateLimit({ minTimeMs: 300, queue: 1, maxWaitMs: 1000 });
    const { service, call } = await serve(limiter, { outer: [outer] });
    await call();
    const controller = new AbortController();
    const queued = call(undefined, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const cancelledAt = performance.now();
    controller.abort();
    expect((await failure(queued)).code).toBe('CANCELLED');
    // The server hears the cancel: the waiting call's filters end well before its slot was due.
    for (let i = 0; i < 100 && finallies < 2; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(finallies).toBe(2);
    expect(performance.now() - cancelledAt).toBeLessThan(200);
    // The queue (of one) is free again and the slot was given back: the next call queues for it and runs.
    await call();
    expect(service.runs).toBe(2);
  });
});

describe('rateLimit on a client', () => {
  it('refuses with not_sent: nothing reaches the server', async () => {
    const limiter = rateLimit({ reservoir: 2, refreshIntervalMs: 60_000 });
    const server = await serve(rateLimit(false), { clientFilters: [limiter.filter] });
    closers.push(() => limiter.close());
    await server.call();
    await server.call();
    const refusal = await failure(server.call());
    expect(refusal.code).toBe('RESOURCE_EXHAUSTED');
    expect(refusal.progress).toBe('not_sent');
    expect(refusal.message).toContain('nothing was sent');
    expect(server.service.runs).toBe(2);
  });

  it('passes events through untouched', async () => {
    const limiter = rateLimit({ minTimeMs: 60_000 });
    const event = { ...callOf(), kind: 'event' as const, service: '', method: '' };
    for (let i = 0; i < 3; i++) expect(await pass(limiter, event)).toBe('ok');
    await limiter.close();
  });
});

describe('the budgets, on a fake clock', () => {
  it('a token bucket lets N calls per T through, refilled continuously, exactly', async () => {
    vi.useFakeTimers({ toFake: ['performance', 'Date', 'setTimeout', 'clearTimeout'] });
    const limiter = rateLimit({ reservoir: 5, refreshIntervalMs: 1000 });
    for (let i = 0; i < 5; i++) expect(await pass(limiter)).toBe('ok');
    const refused = await pass(limiter);
    expect((refused as RpcError).metadata?.[PUSHBACK_METADATA_KEY]).toBe('200');
    vi.advanceTimersByTime(199);
    expect(await pass(limiter)).toBeInstanceOf(RpcError);
    vi.advanceTimersByTime(1);
    expect(await pass(limiter)).toBe('ok');
    // Idle for long: the bucket holds at most N, never more.
    vi.advanceTimersByTime(60_000);
    let passed = 0;
    for (let i = 0; i < 10; i++) if ((await pass(limiter)) === 'ok') passed++;
    expect(passed).toBe(5);
    // Sustained: over 10 s, calls every ms, N + 10·N pass.
    passed = 0;
    for (let ms = 0; ms < 10_000; ms++) {
      vi.advanceTimersByTime(1);
      if ((await pass(limiter)) === 'ok') passed++;
    }
    expect(passed).toBe(50);
    await limiter.close();
  });

  it('a minimum spacing lets one call through per minTimeMs', async () => {
    vi.useFakeTimers({ toFake: ['performance', 'Date', 'setTimeout', 'clearTimeout'] });
    const limiter = rateLimit({ minTimeMs: 50 });
    expect(await pass(limiter)).toBe('ok');
    const refused = (await pass(limiter)) as RpcError;
    expect(refused.metadata?.[PUSHBACK_METADATA_KEY]).toBe('50');
    vi.advanceTimersByTime(49);
    expect(await pass(limiter)).toBeInstanceOf(RpcError);
    vi.advanceTimersByTime(1);
    expect(await pass(limiter)).toBe('ok');
    let passed = 0;
    for (let ms = 0; ms < 1000; ms++) {
      vi.advanceTimersByTime(1);
      if ((await pass(limiter)) === 'ok') passed++;
    }
    expect(passed).toBe(20);
    await limiter.close();
  });

  it('keeps at most maxKeys caller budgets', async () => {
    const limiter = rateLimit({ key: { metadata: 'tenant' }, minTimeMs: 60_000, maxKeys: 2 });
    expect(await pass(limiter, callOf({ tenant: 'a' }))).toBe('ok');
    expect(await pass(limiter, callOf({ tenant: 'b' }))).toBe('ok');
    expect(await pass(limiter, callOf({ tenant: 'c' }))).toBe('ok'); // 'a' is forgotten
    expect(await pass(limiter, callOf({ tenant: 'c' }))).toBeInstanceOf(RpcError);
    expect(await pass(limiter, callOf({ tenant: 'a' }))).toBe('ok');
    await limiter.close();
  });
});

describe('rateLimit options', () => {
  const bad: [unknown, string][] = [
    [{ reservoir: 5, refreshIntervalMS: 1000 }, 'rateLimit.refreshIntervalMS: unknown option'],
    [{ reservoir: 5 }, 'rateLimit.refreshIntervalMs'],
    [{ reservoir: 0, refreshIntervalMs: 1000 }, 'rateLimit.reservoir'],
    [{ reservoir: 1.5, refreshIntervalMs: 1000 }, 'rateLimit.reservoir'],
    [{ minTimeMs: -1 }, 'rateLimit.minTimeMs'],
    [{ minTimeMs: 10, reservoir: 5, refreshIntervalMs: 100 }, 'rateLimit.minTimeMs: give either'],
    [{}, 'rateLimit: give reservoir'],
    [{ minTimeMs: 10, queue: -1 }, 'rateLimit.queue'],
    [{ minTimeMs: 10, maxWaitMs: Number.NaN }, 'rateLimit.maxWaitMs'],
    [{ minTimeMs: 10, maxKeys: 0 }, 'rateLimit.maxKeys'],
    [{ minTimeMs: 10, key: 'caller' }, 'rateLimit.key'],
    [{ minTimeMs: 10, key: { metadata: '' } }, 'rateLimit.key.metadata'],
    [{ minTimeMs: 10, key: { header: 'x' } }, 'rateLimit.key.header'],
  ];
  it.each(bad)('refuses %j naming the key', (options, message) => {
    expect(() => rateLimit(options as RateLimitOptions)).toThrow(message);
    try {
      rateLimit(options as RateLimitOptions);
    } catch (error) {
      expect(RpcError.is(error, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('refuses bad cluster options naming the key', () => {
    const ok = { minTimeMs: 10 };
    expect(() => rateLimit(ok, { cluster: { redis: { host: '127.0.0.1', port: 0 } } })).toThrow('rateLimit options.cluster.redis.port');
    expect(() => rateLimit(ok, { cluster: { redis: { host: '127.0.0.1', port: 6390 }, failopen: true } as never })).toThrow('rateLimit options.cluster.failopen: unknown option');
    expect(() => rateLimit(ok, { cluster: { redis: { host: '127.0.0.1', port: 6390 }, timeoutMs: 0 } })).toThrow('rateLimit options.cluster.timeoutMs');
    expect(() => rateLimit(ok, { clutser: {} } as never)).toThrow('rateLimit options.clutser: unknown option');
  });

  it('checks what a settings function answers when the method is first called', async () => {
    const limiter = rateLimit(() => ({ minTimeMs: 'ten' }) as unknown as RateLimitOptions);
    const error = await pass(limiter);
    expect((error as RpcError).message).toContain('rateLimit(Limited.hit).minTimeMs');
    await limiter.close();
  });
});

describe('close', () => {
  it('fails the queued calls and leaves no timers; later calls are refused', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const limiter = rateLimit({ minTimeMs: 10_000, queue: 3, maxWaitMs: 60_000 });
    expect(await pass(limiter)).toBe('ok');
    const queued = [pass(limiter), pass(limiter)];
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(timersBefore + 2);
    await limiter.close();
    for (const result of await Promise.all(queued)) expect((result as RpcError).message).toContain('was closed while the call waited');
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(timersBefore);
    expect(((await pass(limiter)) as RpcError).message).toContain('was closed');
  });
});
