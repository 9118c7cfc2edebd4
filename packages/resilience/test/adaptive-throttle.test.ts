/** Client-side adaptive throttling behind a real Client and TCP servers that refuse calls as overloaded. */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Method, RpcError, Server, Service, silentLogger, staticRegistry, type Filter } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { adaptiveThrottle } from '../src/adaptive-throttle.js';
import { clientResilience } from '../src/client-resilience.js';

@Service('Work')
class Work {
  calls = 0;
  @Method()
  async run(args: { n: number }): Promise<{ n: number }> {
    this.calls++;
    if (args.n < 0) throw new RpcError('NOT_FOUND', `no ${args.n}`);
    return args;
  }
}

/** A server whose filter refuses every call as a load shedder would while `overloaded` (no handler runs: progress refused). */
async function workServer(): Promise<{ address: string; work: Work; arrived: () => number; set: (overloaded: boolean) => void; close: () => Promise<void> }> {
  const work = new Work();
  let overloaded = false;
  let arrived = 0;
  const shed: Filter = async (call, next) => {
    arrived++;
    if (overloaded) throw new RpcError('RESOURCE_EXHAUSTED', 'overloaded (test)');
    return next();
  };
  const server = new Server({ transport: tcp(), filters: [shed], logger: silentLogger }).register(work);
  const address = await server.listen('tcp://127.0.0.1:0');
  return { address, work, arrived: () => arrived, set: (value) => void (overloaded = value), close: () => server.close() };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('adaptive throttle', () => {
  it('holds back most calls to a node that refuses them, at once and unsent, and lets them through again once it accepts', async () => {
    const node = await workServer();
    cleanups.push(node.close);
    const resilience = clientResilience({ throttle: { windowMs: 1_000 } });
    const client = new Client(resilience.apply({ transport: tcp(), registry: staticRegistry({ Work: [node.address] }), logger: silentLogger }));
    cleanups.push(() => client.close());
    expect(await client.invoke('Work', 'run', { n: 1 })).toEqual({ n: 1 }); // connected
    node.set(true);
    const before = node.arrived();
    const local: number[] = [];
    let refusedThere = 0;
    for (let i = 0; i < 300; i++) {
      const started = performance.now();
      const error = await client.invoke('Work', 'run', { n: i }).then(() => undefined, (e: unknown) => e as RpcError);
      expect(error?.code).toBe('RESOURCE_EXHAUSTED');
      if (error!.progress === 'not_sent') {
        expect(error!.message).toMatch(/^the client held back this call to Work on tcp:\/\/127\.0\.0\.1:\d+: .* % of new calls to it are not sent \(adaptive throttling\)/);
        local.push(performance.now() - started);
      } else {
        expect(error!.progress).toBe('refused');
        refusedThere++;
      }
    }
    // With no accepts the share is requests / (requests + 1): after the first few, nearly all stay here.
    expect(local.length).toBeGreaterThan(250);
    expect(node.arrived() - before).toBe(refusedThere);
    expect(local.sort((a, b) => a - b)[Math.floor(local.length / 2)]).toBeLessThan(1);
    const state = resilience.throttle!.state('Work', node.address)!;
    expect(state.share).toBeGreaterThan(0.9);
    expect(state.accepts).toBeLessThanOrEqual(1);

    // The node recovers: the share falls to 0 within a few hundred calls, long before the window
    // has aged out (counting held-back calls as requests, as the SRE book does, took thousands).
    node.set(false);
    let calls = 0;
    while (resilience.throttle!.state('Work', node.address)!.share > 0 && calls < 3_000) {
      await client.invoke('Work', 'run', { n: calls }).catch(() => undefined);
      calls++;
    }
    expect(resilience.throttle!.state('Work', node.address)!.share).toBe(0);
    expect(calls).toBeLessThan(1_000);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    for (let i = 0; i < 50; i++) expect(await client.invoke('Work', 'run', { n: i })).toEqual({ n: i });
    expect(resilience.throttle!.state('Work', node.address)!.share).toBe(0);
  });

  it('sends a refusing node fewer attempts while the others take the calls: none fails', async () => {
    const sick = await workServer();
    const well = await workServer();
    cleanups.push(sick.close, well.close);
    sick.set(true);
    const resilience = clientResilience({ throttle: {} });
    const client = new Client(resilience.apply({ transport: tcp(), registry: staticRegistry({ Work: [sick.address, well.address] }), logger: silentLogger }));
    cleanups.push(() => client.close());
    for (let i = 0; i < 400; i++) expect(await client.invoke('Work', 'run', { n: i })).toEqual({ n: i });
    // Round robin alone would send the sick node 200 first attempts (each then retried on the well one).
    expect(sick.arrived()).toBeLessThan(60);
    expect(well.work.calls).toBe(400);
  });

  it('counts an error the handler answered as accepted: it throttles nothing', async () => {
    const node = await workServer();
    cleanups.push(node.close);
    const throttle = adaptiveThrottle({ multiplier: 1.1 });
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Work: [node.address] }), attemptFilters: [throttle.filter], logger: silentLogger });
    cleanups.push(() => client.close());
    for (let i = 1; i <= 100; i++) await expect(client.invoke('Work', 'run', { n: -i })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(node.work.calls).toBe(100);
    expect(throttle.state('Work', node.address)).toEqual({ requests: 100, accepts: 100, share: 0 });
  });

  it('refuses bad options when made, naming where', () => {
    expect(() => adaptiveThrottle({ multiplier: 0.5 })).toThrow(/adaptiveThrottle\.multiplier: expected a number of at least 1, got 0\.5/);
    expect(() => clientResilience({ services: { Work: { throttle: { windowMs: 5 } } } })).toThrow(/services\.Work\.throttle\.windowMs: expected an integer from 1000 to 600000 ms, got 5/);
    expect(() => clientResilience({ throttle: { burst: 1 } as never })).toThrow(/throttle\.burst: unknown throttle option/);
  });
});
