import { afterEach, describe, expect, it, vi } from 'vitest';
import { Client, Method, RpcError, Server, Service, silentLogger, staticRegistry, PUSHBACK_METADATA_KEY, type Call, type Filter } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { bulkhead, type Bulkhead } from '../src/bulkhead.js';
import type { BulkheadOptions } from '../src/bulkhead-options.js';
import type { MethodSettings } from '../src/method-table.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A promise the test resolves: a handler holds its slot until then. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Counts handler runs and how many run at once; `hold` keeps a call's slot until its gate opens. */
@Service('Work')
class Work {
  running = 0;
  maxRunning = 0;
  started: number[] = [];
  gates = new Map<number, Promise<void>>();

  private async run(n: number, ms: number): Promise<{ n: number }> {
    this.started.push(n);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await (this.gates.get(n) ?? sleep(ms));
      return { n };
    } finally {
      this.running--;
    }
  }

  @Method({ concurrency: 3, queue: 100 })
  async limited(args: { n: number; ms?: number }): Promise<{ n: number }> {
    return this.run(args.n, args.ms ?? 10);
  }

  @Method({ concurrency: 1, queue: 10 })
  async single(args: { n: number; ms?: number }): Promise<{ n: number }> {
    return this.run(args.n, args.ms ?? 10);
  }

  @Method({ concurrency: 1, queue: 1 })
  async tight(args: { n: number; ms?: number }): Promise<{ n: number }> {
    return this.run(args.n, args.ms ?? 10);
  }

  @Method({ concurrency: 2 })
  async failing(args: { n: number }): Promise<never> {
    this.started.push(args.n);
    await sleep(5);
    throw new RpcError('FAILED_PRECONDITION', `call ${args.n} fails`);
  }

  @Method()
  async free(args: { n: number; ms?: number }): Promise<{ n: number }> {
    return this.run(args.n, args.ms ?? 20);
  }
}

interface Setup {
  work: Work;
  client: Client;
  part: Bulkhead;
  /** Requests (`n`) whose server filters' finally ran, outside the bulkhead. */
  finished: number[];
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setup(settings?: MethodSettings<BulkheadOptions | false>, clientFilters: Filter[] = []): Promise<Setup> {
  const work = new Work();
  const part = bulkhead(settings);
  const finished: number[] = [];
  const outer: Filter = async (call: Call, next) => {
    try {
      return await next();
    } finally {
      finished.push((call.request as { n: number }).n);
    }
  };
  const server = new Server({ transport: tcp(), filters: [outer, part.filter], logger: silentLogger }).register(work);
  const address = await server.listen('tcp://127.0.0.1:0');
  const client = new Client({ transport: tcp(), registry: staticRegistry({ Work: [address] }), logger: silentLogger, filters: clientFilters });
  closers.push(
    async () => server.close({ drainTimeout: 200 }),
    async () => part.close(),
    async () => client.close(),
  );
  return { work, client, part, finished };
}

const call = (client: Client, method: string, n: number, options: { timeout?: number; signal?: AbortSignal; ms?: number } = {}) =>
  client.invoke('Work', method, { n, ms: options.ms }, { timeout: options.timeout ?? 5000, signal: options.signal }) as Promise<{ n: number }>;

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await sleep(5);
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

describe('bulkhead: the limits of @Method({ concurrency, queue })', () => {
  it('runs at most `concurrency` calls of a method at once, the others waiting their turn', async () => {
    const { work, client, part } = await setup();
    const calls = Array.from({ length: 30 }, (_, n) => call(client, 'limited', n));
    await until(() => part.stats('Work', 'limited')?.queued === 27, '27 queued');
    expect(part.stats('Work', 'limited')).toEqual({ running: 3, queued: 27 });
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.n)).toEqual(Array.from({ length: 30 }, (_, n) => n));
    expect(work.maxRunning).toBe(3);
    expect(work.started).toHaveLength(30);
    expect(part.stats('Work', 'limited')).toEqual({ running: 0, queued: 0 });
  });

  it('does nothing for a method without `concurrency`', async () => {
    const { work, client, part } = await setup();
    await Promise.all(Array.from({ length: 10 }, (_, n) => call(client, 'free', n)));
    expect(work.maxRunning).toBe(10);
    expect(part.stats('Work', 'free')).toBeUndefined();
  });

  it('serves the queue first come, first served', async () => {
    const { work, client, part } = await setup();
    const first = gate();
    work.gates.set(0, first.opened);
    const calls = [call(client, 'single', 0)];
    await until(() => work.started.length === 1, 'the first call to start');
    for (let n = 1; n <= 6; n++) calls.push(call(client, 'single', n));
    await until(() => part.stats('Work', 'single')?.queued === 6, '6 queued');
    first.open();
    await Promise.all(calls);
    expect(work.started).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('refuses a call beyond the queue before its handler, with progress refused and pushback', async () => {
    const { work, client, finished } = await setup();
    const hold = gate();
    work.gates.set(0, hold.opened);
    const running = call(client, 'tight', 0);
    await until(() => work.started.length === 1, 'the first call to start');
    const queued = call(client, 'tight', 1);
    await until(() => finished.length === 0 && work.started.length === 1, 'nothing else');
    const refused = await call(client, 'tight', 2).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(RpcError);
    expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused', retryable: true });
    expect((refused as RpcError).message).toMatch(/Work\.tight is at its bulkhead limit on the server: 1 calls running and 1 waiting/);
    expect((refused as RpcError).metadata?.[PUSHBACK_METADATA_KEY]).toBe('100');
    hold.open();
    await Promise.all([running, queued]);
    expect(work.started).toEqual([0, 1]);
  });

  it('refuses a call that waited maxWaitMs, and the slot stays usable', async () => {
    const { work, client, part } = await setup({ concurrency: 1, queue: 5, maxWaitMs: 60 });
    const hold = gate();
    work.gates.set(0, hold.opened);
    const running = call(client, 'single', 0);
    await until(() => work.started.length === 1, 'the first call to start');
    const started = performance.now();
    const error = await call(client, 'single', 1).catch((e: unknown) => e);
    const waited = performance.now() - started;
    expect(error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'refused' });
    expect((error as RpcError).message).toContain('maxWaitMs');
    expect(waited).toBeGreaterThanOrEqual(55);
    expect(waited).toBeLessThan(1000);
    expect(part.stats('Work', 'single')).toEqual({ running: 1, queued: 0 });
    hold.open();
    await running;
    expect(await call(client, 'single', 2)).toEqual({ n: 2 });
    expect(work.started).toEqual([0, 2]);
    expect(part.stats('Work', 'single')).toEqual({ running: 0, queued: 0 });
  });

  it('lets a queued call that is cancelled or runs out of time leave the queue at once, never started', async () => {
    const { work, client, part, finished } = await setup();
    const hold = gate();
    work.gates.set(0, hold.opened);
    const running = call(client, 'single', 0);
    await until(() => work.started.length === 1, 'the first call to start');

    const timedOut = call(client, 'single', 1, { timeout: 80 }).catch((e: unknown) => e);
    const cancel = new AbortController();
    const cancelled = call(client, 'single', 2, { signal: cancel.signal }).catch((e: unknown) => e);
    const waiting = call(client, 'single', 3);
    await until(() => part.stats('Work', 'single')?.queued === 3, '3 queued');

    cancel.abort();
    expect(await cancelled).toMatchObject({ code: 'CANCELLED' });
    await until(() => finished.includes(2), "the cancelled call's finally");
    expect(part.stats('Work', 'single')).toEqual({ running: 1, queued: 2 });

    expect(await timedOut).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    await until(() => finished.includes(1), "the timed-out call's finally");
    expect(part.stats('Work', 'single')).toEqual({ running: 1, queued: 1 });

    hold.open();
    await running;
    expect(await waiting).toEqual({ n: 3 });
    // Neither of the two that gave up ran, and no slot leaked: the method runs at once again.
    expect(work.started).toEqual([0, 3]);
    expect(part.stats('Work', 'single')).toEqual({ running: 0, queued: 0 });
    expect(await call(client, 'single', 4, { ms: 1 })).toEqual({ n: 4 });
  });

  it('frees the slot whatever the handler does: throws, or runs past its deadline', async () => {
    const { work, client, part } = await setup();
    for (let round = 0; round < 5; round++) {
      const errors = await Promise.all([call(client, 'failing', 2 * round).catch((e: unknown) => e), call(client, 'failing', 2 * round + 1).catch((e: unknown) => e)]);
      // The handler's own error each time: a leaked slot would make the next round RESOURCE_EXHAUSTED.
      for (const error of errors) expect(error).toMatchObject({ code: 'FAILED_PRECONDITION' });
    }
    expect(work.started).toHaveLength(10);
    expect(part.stats('Work', 'failing')).toEqual({ running: 0, queued: 0 });

    // A handler past its deadline still holds its slot while it runs (the work is not done), and frees it when it ends.
    const late = await call(client, 'tight', 10, { timeout: 30, ms: 120 }).catch((e: unknown) => e);
    expect(late).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(part.stats('Work', 'tight')?.running).toBe(1);
    await until(() => part.stats('Work', 'tight')?.running === 0, 'the late handler to end');
    expect(await call(client, 'tight', 11, { ms: 1 })).toEqual({ n: 11 });
  });

  it('limits the calls of a client (per service and method), refusing with not_sent before anything is sent', async () => {
    const clientSide = bulkhead({ concurrency: 1 });
    closers.push(async () => clientSide.close());
    const { work, client } = await setup(false, [clientSide.filter]);
    const first = call(client, 'free', 0, { ms: 80 });
    const second = await call(client, 'free', 1).catch((e: unknown) => e);
    expect(second).toMatchObject({ code: 'RESOURCE_EXHAUSTED', progress: 'not_sent' });
    expect((second as RpcError).message).toContain('on this client');
    expect(clientSide.stats('Work', 'free')).toEqual({ running: 1, queued: 0 });
    await first;
    expect(work.started).toEqual([0]);
    expect(clientSide.stats('Work', 'free')).toEqual({ running: 0, queued: 0 });
    expect(await call(client, 'free', 2, { ms: 1 })).toEqual({ n: 2 });
  });

  it('takes settings per method from a function of service, method and @Method options', async () => {
    const seen: string[] = [];
    const { work, client } = await setup((service, method, options) => {
      seen.push(`${service}.${method}:${options?.concurrency ?? '-'}`);
      return method === 'free' ? { concurrency: 2, queue: 10 } : false;
    });
    await Promise.all(Array.from({ length: 8 }, (_, n) => call(client, 'free', n)));
    expect(work.maxRunning).toBe(2);
    work.maxRunning = 0;
    await Promise.all(Array.from({ length: 6 }, (_, n) => call(client, 'limited', n)));
    expect(work.maxRunning).toBe(6); // false: no bulkhead, whatever @Method says
    expect(seen).toEqual(['Work.free:-', 'Work.limited:3']); // once per method
  });
});

describe('bulkhead: options', () => {
  it('refuses bad options when made, naming the key', () => {
    const refused = (settings: unknown) => {
      try {
        bulkhead(settings as BulkheadOptions);
      } catch (error) {
        return error as RpcError;
      }
      throw new Error('accepted');
    };
    expect(refused({ concurency: 2 })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('bulkhead.concurency: unknown option') });
    expect(refused({ concurrency: 0 }).message).toContain('bulkhead.concurrency: must be an integer of at least 1, got 0');
    expect(refused({ concurrency: 2, queue: -1 }).message).toContain('bulkhead.queue');
    expect(refused({ concurrency: 2, maxWaitMs: 0 }).message).toContain('bulkhead.maxWaitMs');
    expect(refused({ concurrency: 2, pushbackMs: 'soon' }).message).toContain('bulkhead.pushbackMs');
    expect(refused(7).message).toContain('expected { concurrency');
  });

  it('refuses what a settings function returns for a method on its first call, naming the method and key', async () => {
    const { client, work } = await setup(() => ({ concurrency: 1.5 }));
    const error = await call(client, 'free', 0).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('bulkhead(Work.free).concurrency') });
    expect(work.started).toEqual([]);
  });

  it('close() refuses the waiting calls and leaves no timer', async () => {
    vi.useFakeTimers();
    try {
      const part = bulkhead({ concurrency: 1, queue: 2, maxWaitMs: 1000 });
      const signal = new AbortController().signal;
      const fake = { side: 'server', kind: 'call', service: 'S', method: 'm', request: 0, metadata: {}, deadline: 0, signal, definition: { options: {} } } as unknown as Call;
      let release!: () => void;
      const running = part.filter(fake, () => new Promise((resolve) => (release = () => resolve('done'))));
      const queued = part.filter(fake, () => Promise.resolve('never')).catch((e: unknown) => e);
      await Promise.resolve();
      expect(part.stats('S', 'm')).toEqual({ running: 1, queued: 1 });
      expect(vi.getTimerCount()).toBe(1); // one timer for the queue's oldest, not one per call
      part.close();
      expect(vi.getTimerCount()).toBe(0);
      expect(await queued).toMatchObject({ code: 'UNAVAILABLE', progress: 'refused' });
      release();
      expect(await running).toBe('done');
      expect(part.stats('S', 'm')).toEqual({ running: 0, queued: 0 });
    } finally {
      vi.useRealTimers();
    }
  });
});
