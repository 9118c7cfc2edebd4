import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, RpcError, silentLogger, staticRegistry, type Call } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { rateLimit } from '../src/rate-limit.js';
import type { RateLimitOptions } from '../src/rate-limit-options.js';
import { RedisServer } from './helpers/redis-server.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/rate-limit-server.mjs', import.meta.url));
// 200 calls/s cluster-wide, in bursts of 20.
const LIMIT: RateLimitOptions = { reservoir: 20, refreshIntervalMs: 100 };
const RATE = 200;
const BURST = 20;

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.stop();
});

/** One server process with the cluster-wide limit; `runs()` asks it how many handlers ran. */
class LimitedProcess {
  private readonly replies: ((line: string) => void)[] = [];
  private constructor(
    private readonly child: ChildProcess,
    readonly address: string,
  ) {}

  static async start(failOpen: boolean, prefix: string): Promise<LimitedProcess> {
    const options = { limit: LIMIT, cluster: { redis: { host: redis.host, port: redis.port }, prefix, failOpen, timeoutMs: 100 } };
    const child = spawn(process.execPath, [FIXTURE, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! });
    const first = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`the fixture exited (${String(code)}) before serving`)));
    });
    const started = new LimitedProcess(child, (JSON.parse(first) as { address: string }).address);
    lines.on('line', (line) => started.replies.shift()?.(line));
    return started;
  }

  async runs(): Promise<number> {
    const reply = new Promise<string>((resolve) => this.replies.push(resolve));
    this.child.stdin!.write('{"cmd":"runs"}\n');
    return (JSON.parse(await reply) as { runs: number }).runs;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const stopped = new Promise<string>((resolve) => this.replies.push(resolve));
    this.child.stdin!.write('{"cmd":"stop"}\n');
    const timer = setTimeout(() => process.kill(this.child.pid!, 'SIGKILL'), 3000);
    await Promise.race([stopped, exited]);
    await exited;
    clearTimeout(timer);
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  if (redis !== undefined) await redis.start().catch(() => undefined); // a test that killed it leaves it running again
});

/** Two server processes on one Redis budget, and a client pinned to each. */
async function cluster(failOpen: boolean) {
  const prefix = `test:${Math.random().toString(36).slice(2)}:`;
  const processes = await Promise.all([LimitedProcess.start(failOpen, prefix), LimitedProcess.start(failOpen, prefix)]);
  for (const p of processes) closers.push(() => p.stop());
  const clients = processes.map((p) => new Client({ transport: tcp(), registry: staticRegistry({ Limited: [p.address] }), logger: silentLogger, timeout: 3000 }));
  for (const c of clients) closers.push(() => c.close());
  return { processes, clients, runs: async () => (await Promise.all(processes.map((p) => p.runs()))).reduce((a, b) => a + b, 0) };
}

interface Outcome {
  at: number;
  ms: number;
  result: 'served' | 'RESOURCE_EXHAUSTED' | 'UNAVAILABLE' | string;
}

/** Calls as fast as `loops` loops per client can, until `until` (performance.now), recording each outcome. */
async function blast(clients: Client[], until: number, loops = 16): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const loop = async (client: Client) => {
    while (performance.now() < until) {
      const at = performance.now();
      try {
        await client.invoke('Limited', 'hit', {});
        outcomes.push({ at, ms: performance.now() - at, result: 'served' });
      } catch (error) {
        outcomes.push({ at, ms: performance.now() - at, result: RpcError.is(error) ? error.code : String(error) });
      }
    }
  };
  await Promise.all(clients.flatMap((client) => Array.from({ length: loops }, () => loop(client))));
  return outcomes;
}

/** The slowest call's ms (a loop: there are too many outcomes to spread into Math.max). */
function longest(outcomes: Outcome[]): number {
  let most = 0;
  for (const o of outcomes) if (o.ms > most) most = o.ms;
  return most;
}

function servedBetween(outcomes: Outcome[], from: number, to: number): number {
  return outcomes.filter((o) => o.result === 'served' && o.at >= from && o.at < to).length;
}

describe('a cluster-wide rate limit on Redis', () => {
  it('holds across two server processes (± 10%), refusing the rest before any handler runs', async () => {
    const { clients, runs } = await cluster(true);
    const started = performance.now();
    const outcomes = await blast(clients, started + 3000);
    const seconds = (performance.now() - started) / 1000;
    const served = outcomes.filter((o) => o.result === 'served').length;
    const refused = outcomes.filter((o) => o.result === 'RESOURCE_EXHAUSTED').length;
    const expected = BURST + RATE * seconds;
    expect(served + refused).toBe(outcomes.length);
    expect(refused).toBeGreaterThan(served); // overloaded, from both processes
    expect(await runs()).toBe(served);
    expect(Math.abs(served - expected) / expected).toBeLessThan(0.1);
  });

  it('fails open through a Redis restart: no call hangs, each process keeps its own limit meanwhile, the shared limit resumes', async () => {
    const { clients } = await cluster(true);
    const t0 = performance.now();
    const traffic = blast(clients, t0 + 6000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const killedAt = performance.now();
    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const restartedAt = performance.now();
    await redis.start();
    const outcomes = await traffic;
    const unexpected = outcomes.filter((o) => o.result !== 'served' && o.result !== 'RESOURCE_EXHAUSTED');
    expect(unexpected).toEqual([]);
    expect(longest(outcomes)).toBeLessThan(500); // nothing waited on the dead Redis
    // While down: each of the two processes allows the full limit on its own (≈ 2 × 200/s).
    const down = servedBetween(outcomes, killedAt + 100, restartedAt) / ((restartedAt - killedAt - 100) / 1000);
    expect(down).toBeGreaterThan(1.5 * RATE);
    expect(down).toBeLessThan(2 * RATE * 1.1 + 2 * BURST);
    // Back: the shared budget again (the last 2 s, after ioredis has reconnected).
    const end = t0 + 6000;
    const back = servedBetween(outcomes, end - 2000, end) / 2;
    expect(Math.abs(back - RATE) / RATE).toBeLessThan(0.15);
  });

  it('fails closed when failOpen is false: refused UNAVAILABLE at once while Redis is down, served again after', async () => {
    const { clients, runs } = await cluster(false);
    const t0 = performance.now();
    const traffic = blast(clients, t0 + 5000, 8);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const killedAt = performance.now();
    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const restartedAt = performance.now();
    await redis.start();
    const outcomes = await traffic;
    expect(outcomes.filter((o) => !['served', 'RESOURCE_EXHAUSTED', 'UNAVAILABLE'].includes(o.result))).toEqual([]);
    expect(longest(outcomes)).toBeLessThan(500);
    const whileDown = outcomes.filter((o) => o.at >= killedAt + 100 && o.at < restartedAt);
    expect(whileDown.length).toBeGreaterThan(100);
    expect(whileDown.filter((o) => o.result === 'served')).toEqual([]);
    expect(whileDown.filter((o) => o.result === 'UNAVAILABLE').length).toBe(whileDown.length);
    const end = t0 + 5000;
    const back = servedBetween(outcomes, end - 1500, end) / 1.5;
    expect(Math.abs(back - RATE) / RATE).toBeLessThan(0.15);
    expect(await runs()).toBe(outcomes.filter((o) => o.result === 'served').length);
  });
});

describe('a cluster-wide limit in one process', () => {
  function callOf(metadata: Record<string, string> = {}, signal = new AbortController().signal): Call {
    return { side: 'server', kind: 'call', service: 'Limited', method: 'hit', request: {}, metadata, deadline: 0, signal, definition: {} } as unknown as Call;
  }
  const pass = async (filter: ReturnType<typeof rateLimit>['filter'], call: Call) => {
    try {
      await filter(call, async () => 'ok');
      return 'ok';
    } catch (error) {
      return RpcError.is(error) ? error : String(error);
    }
  };

  it('queues on Redis-booked slots, keeps callers apart, and close() leaves no connection', async () => {
    const prefix = `test:${Math.random().toString(36).slice(2)}:`;
    const limiter = rateLimit({ key: { metadata: 'tenant' }, minTimeMs: 100, queue: 3, maxWaitMs: 1000 }, { cluster: { redis: { host: redis.host, port: redis.port }, prefix } });
    const admin = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    closers.push(async () => admin.disconnect());
    await admin.connect();
    for (let i = 0; i < 50 && (await pass(limiter.filter, callOf({ tenant: 'warm' }))) !== 'ok'; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const started = performance.now();
    const results = await Promise.all([0, 1, 2, 3].map(() => pass(limiter.filter, callOf({ tenant: 'a' }))));
    expect(results.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
    // In cluster mode a call asking Redis holds a place in the queue until the answer (it may have to wait): the fourth finds it full.
    expect((results[3] as RpcError).message).toContain('queue of 3 waiting calls was full');
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(await pass(limiter.filter, callOf({ tenant: 'b' }))).toBe('ok');
    const keys = await admin.keys(`${prefix}*`);
    expect(keys.length).toBe(3); // warm, a, b
    const clientsBefore = (await admin.client('LIST')) as string;
    expect(clientsBefore.trim().split('\n').length).toBe(2);
    await limiter.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const clientsAfter = (await admin.client('LIST')) as string;
    expect(clientsAfter.trim().split('\n').length).toBe(1); // the admin's own
  });
});
