/** What the breakers hold: bounded breakers (evicted ones shut down), shared timers, close(), and options checked when made. */
import { afterEach, describe, expect, it } from 'vitest';
import { RpcError } from '@svc/core';
import { circuitBreakers } from '../src/circuit-breakers.js';
import { breakerCluster } from './helpers/breaker-cluster.js';
import { BREAKER_TIMERS, timerCounter } from './helpers/breaker-timers.js';

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

describe('bounded breakers and their timers', () => {
  it('past maxBreakers the least recently used breaker is shut down: its reset timer goes, its node gets calls again', async () => {
    const timers = timerCounter(BREAKER_TIMERS);
    cleanups.push(() => timers.stop());
    const breakers = circuitBreakers({ failures: 1, windowMs: 60_000, resetTimeout: 60_000 }, { maxBreakers: 2 });
    cleanups.push(() => breakers.close());
    const cluster = await breakerCluster(3, { filter: breakers.filter, selector: breakers.selector() });
    cleanups.push(() => cluster.close());
    const [a, b, c] = cluster.addresses as [string, string, string];
    cluster.nodes[0]!.behaviour = 'unavailable';
    await cluster.client.invoke('Flaky', 'work', { n: 0 }, { address: a }).catch(() => {});
    expect(breakers.stateOf('Flaky', 'work', a)).toBe('open');
    // One bucket interval and the open breaker's reset timer.
    expect(breakers.stats()).toEqual({ breakers: 1, open: 1, halfOpen: 0, timers: 2 });
    expect(await timers.settled()).toBe(2);

    await cluster.client.invoke('Flaky', 'work', { n: 0 }, { address: b });
    await cluster.client.invoke('Flaky', 'work', { n: 0 }, { address: c });
    expect(breakers.stateOf('Flaky', 'work', a)).toBeUndefined();
    expect(breakers.stats()).toEqual({ breakers: 2, open: 0, halfOpen: 0, timers: 1 });
    expect(await timers.settled()).toBe(1);
    // A new breaker, closed: the node is called again.
    cluster.nodes[0]!.behaviour = 'ok';
    expect(await cluster.client.invoke('Flaky', 'work', { n: 7 }, { address: a })).toEqual({ n: 7 });
    expect(breakers.stateOf('Flaky', 'work', a)).toBe('closed');
    expect(cluster.nodes[0]!.calls).toBe(2);
  });

  it('1,000 breakers share one timer, and close() leaves none', async () => {
    const timers = timerCounter(BREAKER_TIMERS);
    cleanups.push(() => timers.stop());
    const breakers = circuitBreakers({ errorThresholdPercentage: 50 });
    cleanups.push(() => breakers.close());
    const cluster = await breakerCluster(1, { filter: breakers.filter, selector: breakers.selector() });
    cleanups.push(() => cluster.close());
    // 1,000 methods on one node (unknown to the server: UNIMPLEMENTED, which does not count), one breaker each.
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => cluster.client.invoke('Flaky', `m${batch * 100 + i}`, {}).catch((e: unknown) => RpcError.from(e).code)));
    }
    expect(breakers.stats()).toEqual({ breakers: 1000, open: 0, halfOpen: 0, timers: 1 });
    expect(await timers.settled()).toBe(1);
    expect(timers.holdingProcess).toBe(0);
    expect(breakers.stateOf('Flaky', 'm999', cluster.addresses[0]!)).toBe('closed');

    breakers.close();
    expect(breakers.stats()).toEqual({ breakers: 0, open: 0, halfOpen: 0, timers: 0 });
    expect(await timers.settled()).toBe(0);
    expect(breakers.stateOf('Flaky', 'm999', cluster.addresses[0]!)).toBeUndefined();
    // Closed, the filter lets calls through and makes no breaker.
    expect(await cluster.client.invoke('Flaky', 'work', { n: 3 })).toEqual({ n: 3 });
    expect(breakers.stats().breakers).toBe(0);
    expect(await timers.settled()).toBe(0);
  });

  it('close() with open breakers clears their reset timers', async () => {
    const timers = timerCounter(BREAKER_TIMERS);
    cleanups.push(() => timers.stop());
    const breakers = circuitBreakers({ failures: 1, windowMs: 60_000 });
    const cluster = await breakerCluster(2, { filter: breakers.filter, selector: breakers.selector() });
    cleanups.push(() => cluster.close());
    for (const node of cluster.nodes) node.behaviour = 'unavailable';
    await cluster.work();
    expect(breakers.stats()).toMatchObject({ open: 2, timers: 3 });
    expect(await timers.settled()).toBe(3);
    // The reset timers as well as the bucket interval are unref'd: open breakers never keep a process alive.
    expect(timers.holdingProcess).toBe(0);
    breakers.close();
    expect(await timers.settled()).toBe(0);
  });
});

describe('options are checked when the breakers are made', () => {
  const refused = (make: () => unknown): RpcError => {
    try {
      make();
    } catch (error) {
      expect(error).toBeInstanceOf(RpcError);
      return error as RpcError;
    }
    throw new Error('expected the options to be refused');
  };

  it('names an unknown key (a typo)', () => {
    const error = refused(() => circuitBreakers({ resetTimout: 5_000 } as never));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('circuitBreakers.resetTimout: unknown option');
  });

  it('refuses bad values, naming the key', () => {
    expect(refused(() => circuitBreakers({ errorThresholdPercentage: 100 })).message).toContain('circuitBreakers.errorThresholdPercentage');
    expect(refused(() => circuitBreakers({ volumeThreshold: -1 })).message).toContain('circuitBreakers.volumeThreshold');
    expect(refused(() => circuitBreakers({ resetTimeout: 0 })).message).toContain('circuitBreakers.resetTimeout');
    expect(refused(() => circuitBreakers({ rollingCountTimeout: 1.5 })).message).toContain('circuitBreakers.rollingCountTimeout');
    expect(refused(() => circuitBreakers({ rollingCountTimeout: 5, rollingCountBuckets: 10 })).message).toContain('circuitBreakers.rollingCountBuckets');
    expect(refused(() => circuitBreakers({ failures: 0, windowMs: 1_000 })).message).toContain('circuitBreakers.failures');
    expect(refused(() => circuitBreakers({ failures: 3 } as never)).message).toContain('circuitBreakers.windowMs');
    expect(refused(() => circuitBreakers({ isFailure: 'UNAVAILABLE' } as never)).message).toContain('circuitBreakers.isFailure');
    expect(refused(() => circuitBreakers(42 as never)).message).toContain('circuitBreakers:');
  });

  it('refuses a mix of the two modes', () => {
    expect(refused(() => circuitBreakers({ failures: 3, windowMs: 1_000, volumeThreshold: 5 } as never)).message).toMatch(/circuitBreakers\.volumeThreshold: belongs to the error-percentage mode/);
  });

  it('checks its own options', () => {
    expect(refused(() => circuitBreakers({}, { maxBreakers: 0 })).message).toContain('circuitBreakers(options).maxBreakers');
    expect(refused(() => circuitBreakers({}, { maxBreaker: 10 } as never)).message).toContain('circuitBreakers(options).maxBreaker: unknown option');
    expect(refused(() => circuitBreakers({}, { onStateChange: 1 } as never)).message).toContain('circuitBreakers(options).onStateChange');
  });

  it("a settings function's bad options refuse that method's calls, naming the method and the key", async () => {
    const breakers = circuitBreakers((_service, method) => (method === 'work' ? ({ resetTimout: 1 } as never) : {}));
    cleanups.push(() => breakers.close());
    const cluster = await breakerCluster(1, { filter: breakers.filter, selector: breakers.selector() });
    cleanups.push(() => cluster.close());
    const error = await cluster.work();
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', progress: 'not_sent' });
    expect((error as RpcError).message).toContain('circuitBreakers(Flaky.work).resetTimout: unknown option');
    expect(cluster.nodes[0]!.calls).toBe(0);
    expect(await cluster.client.invoke('Flaky', 'other', { n: 2 })).toEqual({ n: 2 });
  });

  it('a settings function that throws refuses that method\'s calls, saying so', async () => {
    const breakers = circuitBreakers(() => {
      throw new Error('no settings for this one');
    });
    cleanups.push(() => breakers.close());
    const cluster = await breakerCluster(1, { filter: breakers.filter });
    cleanups.push(() => cluster.close());
    const error = await cluster.work();
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((error as RpcError).message).toContain('circuitBreakers(Flaky.work): the settings function threw: no settings for this one');
    expect(cluster.nodes[0]!.calls).toBe(0);
  });
});
