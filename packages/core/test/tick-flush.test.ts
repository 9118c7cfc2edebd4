import { describe, expect, it } from 'vitest';
import { TickBatch, TickFlush } from '../src/transport-kit.js';

const endOfTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('TickFlush', () => {
  it('runs once at the end of the tick however often it is asked, after the synchronous code', async () => {
    const order: string[] = [];
    const flush = new TickFlush(() => order.push('flush'));
    expect(flush.scheduled).toBe(false);
    for (let i = 0; i < 1_000; i++) flush.request();
    expect(flush.scheduled).toBe(true);
    order.push('sync');
    await endOfTick();
    expect(order).toEqual(['sync', 'flush']);
    expect(flush.scheduled).toBe(false);
  });

  it('runs as process.nextTick does: from an I/O or timer callback, before that callback\'s promise callbacks', async () => {
    const order: string[] = [];
    const flush = new TickFlush(() => order.push('flush'));
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        void Promise.resolve().then(() => order.push('microtask'));
        flush.request();
        setImmediate(resolve);
      }),
    );
    expect(order).toEqual(['flush', 'microtask']);
  });

  it('runs again in a later tick when asked again, and a request made while it runs gets a run of its own', async () => {
    let runs = 0;
    let again = true;
    const flush = new TickFlush(() => {
      runs++;
      // Cleared before the function runs: what it queues asks for the next run.
      if (again) {
        again = false;
        flush.request();
        expect(flush.scheduled).toBe(true);
      }
    });
    flush.request();
    await endOfTick();
    expect(runs).toBe(2);
    flush.request();
    flush.request();
    await endOfTick();
    expect(runs).toBe(3);
  });

  it('hands nextTick the same callback every time: no closure per tick', async () => {
    const flush = new TickFlush(() => {});
    const seen = new Set<unknown>();
    let scheduled = 0;
    // Only what request() schedules counts: the test runner schedules ticks of its own meanwhile.
    let requesting = false;
    const original = process.nextTick;
    process.nextTick = ((fn: () => void, ...args: unknown[]) => {
      if (requesting) {
        seen.add(fn);
        scheduled++;
      }
      original(fn, ...args);
    }) as typeof process.nextTick;
    try {
      for (let tick = 0; tick < 3; tick++) {
        requesting = true;
        flush.request();
        flush.request();
        requesting = false;
        await endOfTick();
      }
    } finally {
      process.nextTick = original;
    }
    expect(scheduled).toBe(3);
    expect(seen.size).toBe(1);
  });
});

describe('TickBatch', () => {
  it('hands over what one tick added, in order, in one call; nothing when nothing was added', async () => {
    const batches: number[][] = [];
    const batch = new TickBatch<number>((items) => batches.push(items));
    expect(batch.holding).toBe(false);
    batch.add(1);
    batch.add(2);
    batch.add(3);
    expect(batch.holding).toBe(true);
    expect(batches).toEqual([]);
    await endOfTick();
    expect(batches).toEqual([[1, 2, 3]]);
    expect(batch.holding).toBe(false);
    await endOfTick();
    expect(batches).toHaveLength(1);
    batch.add(4);
    await endOfTick();
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it('what the flush itself adds goes in the next batch, and holding says so while it runs', async () => {
    const batches: string[][] = [];
    let holdingDuringFlush: boolean | undefined;
    const batch = new TickBatch<string>((items) => {
      batches.push(items);
      if (items[0] === 'first') {
        batch.add('second');
        holdingDuringFlush = batch.holding;
      }
    });
    batch.add('first');
    await endOfTick();
    expect(holdingDuringFlush).toBe(true);
    await endOfTick();
    expect(batches).toEqual([['first'], ['second']]);
  });
});
