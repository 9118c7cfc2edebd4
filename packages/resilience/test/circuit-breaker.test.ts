/** Circuit breakers behind a real Client and TCP servers (failover): opening, leaving nodes out, half-open probes, what counts. */
import { afterEach, describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { RpcError, roundRobin, type ServiceNode } from '@svc/core';
import { saysNodeUnwell } from '@svc/core';
import { describeSelectorContract, until } from '@svc/core/testing';
import { circuitBreakers, type CircuitBreakers } from '../src/circuit-breakers.js';
import type { BreakerStateChange } from '../src/breaker-state.js';
import { breakerCluster, callCounts, callsSince, type BreakerCluster } from './helpers/breaker-cluster.js';

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function setUp(count: number, breakers: CircuitBreakers, withSelector = true): Promise<BreakerCluster> {
  cleanups.push(() => breakers.close());
  const cluster = await breakerCluster(count, withSelector ? { filter: breakers.filter, selector: breakers.selector() } : { filter: breakers.filter });
  cleanups.push(() => cluster.close());
  return cluster;
}

/** Calls pinned to one node (the registry is bypassed; the breaker of that address still applies). */
function workOn(cluster: BreakerCluster, address: string, options: { signal?: AbortSignal } = {}): Promise<unknown> {
  return cluster.client.invoke('Flaky', 'work', { n: 0 }, { address, ...options }).catch((error: unknown) => RpcError.from(error));
}

describe('circuit breakers on a real client', () => {
  it('percentage mode: stays closed below the volume threshold, opens at it, and the open node gets no traffic', async () => {
    const breakers = circuitBreakers({ errorThresholdPercentage: 50, volumeThreshold: 6, resetTimeout: 60_000 });
    const cluster = await setUp(2, breakers);
    const [sick, well] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const [sickAddress] = cluster.addresses as [string, string];
    sick.behaviour = 'unavailable';
    // Every call succeeds (failover moves it to the well node); each of the sick node's attempts fails.
    while (sick.calls < 5) expect(await cluster.work()).toEqual({ n: 0 });
    expect(breakers.stateOf('Flaky', 'work', sickAddress)).toBe('closed');
    while (sick.calls < 6) expect(await cluster.work()).toEqual({ n: 0 });
    expect(breakers.stateOf('Flaky', 'work', sickAddress)).toBe('open');

    const before = callCounts(cluster.nodes);
    const attemptsBefore = cluster.attempts.get(sickAddress);
    for (let i = 0; i < 20; i++) expect(await cluster.work(i)).toEqual({ n: i });
    expect(callsSince(cluster.nodes, before)).toEqual([0, 20]);
    // The selector left it out: not even an attempt was made there to be refused.
    expect(cluster.attempts.get(sickAddress)).toBe(attemptsBefore);
    expect(well.calls).toBeGreaterThanOrEqual(26);
    // Another method of the same node has a breaker of its own, still closed.
    expect(breakers.stateOf('Flaky', 'other', sickAddress)).toBeUndefined();
    expect(await cluster.client.invoke('Flaky', 'other', { n: 1 }, { address: sickAddress })).toEqual({ n: 1 });
  });

  it('the filter alone: attempts to an open node are refused (not_sent) and move to another node for free', async () => {
    const breakers = circuitBreakers({ failures: 1, windowMs: 60_000, resetTimeout: 60_000 });
    const cluster = await setUp(2, breakers, false);
    const [sick] = cluster.nodes;
    const [sickAddress] = cluster.addresses as [string];
    sick!.behaviour = 'unavailable';
    await workOn(cluster, sickAddress);
    expect(breakers.stateOf('Flaky', 'work', sickAddress)).toBe('open');
    const attemptsBefore = cluster.attempts.get(sickAddress)!;
    for (let i = 0; i < 10; i++) expect(await cluster.work(i)).toEqual({ n: i });
    expect(sick!.calls).toBe(1);
    // Round robin gave it every other call; each was refused before the wire and retried on the other node.
    expect(cluster.attempts.get(sickAddress)! - attemptsBefore).toBe(5);
  });

  it("percentage mode opens exactly where opossum's own fire() opens, given the same outcomes", async () => {
    const options = { errorThresholdPercentage: 40, volumeThreshold: 5, rollingCountTimeout: 60_000, resetTimeout: 60_000 };
    const breakers = circuitBreakers(options);
    const cluster = await setUp(2, breakers);
    const [node] = cluster.nodes;
    const [address] = cluster.addresses as [string];
    // The reference: opossum itself, firing an action that answers as the node does.
    const reference = new CircuitBreaker(async (behaviour: string) => {
      if (behaviour === 'unavailable') throw new RpcError('UNAVAILABLE', 'x');
      if (behaviour === 'invalid') throw new RpcError('INVALID_ARGUMENT', 'x');
    }, { ...options, timeout: false, enableSnapshots: false, rotateBucketController: new EventEmitter(), errorFilter: (e: RpcError) => !saysNodeUnwell(e) });
    cleanups.push(() => reference.shutdown());
    const outcomes = ['ok', 'unavailable', 'invalid', 'unavailable', 'ok', 'ok', 'unavailable', 'invalid', 'ok', 'unavailable', 'unavailable', 'ok', 'unavailable', 'unavailable'] as const;
    const states: [string, boolean, boolean][] = [];
    for (const behaviour of outcomes) {
      node!.behaviour = behaviour;
      await workOn(cluster, address);
      await reference.fire(behaviour).catch(() => {});
      states.push([behaviour, breakers.stateOf('Flaky', 'work', address) === 'open', reference.opened]);
      if (reference.opened) break;
    }
    expect(states.map(([, ours]) => ours)).toEqual(states.map(([, , theirs]) => theirs));
    expect(states.at(-1)![2]).toBe(true);
    expect(states.length).toBeGreaterThan(5);
  });

  it('percentage mode: a node failing no more than the threshold stays closed', async () => {
    const breakers = circuitBreakers({ errorThresholdPercentage: 50, volumeThreshold: 4, resetTimeout: 60_000 });
    const cluster = await setUp(2, breakers);
    const [node] = cluster.nodes;
    const [address] = cluster.addresses as [string];
    // Half of its calls fail: 50 % is not more than 50 %.
    for (let i = 0; i < 20; i++) {
      node!.behaviour = i % 2 === 0 ? 'ok' : 'unavailable';
      await workOn(cluster, address);
    }
    expect(breakers.stateOf('Flaky', 'work', address)).toBe('closed');
    node!.behaviour = 'unavailable';
    await workOn(cluster, address);
    expect(breakers.stateOf('Flaky', 'work', address)).toBe('open');
  });

  it('count mode: opens after `failures` failures within windowMs, whatever the successes; older failures slide out', async () => {
    const breakers = circuitBreakers({ failures: 3, windowMs: 1_000, resetTimeout: 60_000 });
    const cluster = await setUp(2, breakers);
    const [node] = cluster.nodes;
    const [address] = cluster.addresses as [string];
    const fail = async (times: number) => {
      node!.behaviour = 'unavailable';
      for (let i = 0; i < times; i++) expect(await workOn(cluster, address)).toMatchObject({ code: 'UNAVAILABLE' });
    };
    await fail(2);
    await new Promise((r) => setTimeout(r, 1_150)); // the two slide out of the window
    await fail(2);
    expect(breakers.stateOf('Flaky', 'work', address)).toBe('closed');
    // Many successes do not hold it closed: the count, not the share, decides.
    node!.behaviour = 'ok';
    for (let i = 0; i < 12; i++) await workOn(cluster, address);
    await fail(1);
    expect(breakers.stateOf('Flaky', 'work', address)).toBe('open');
    const calls = node!.calls;
    const refused = await workOn(cluster, address);
    expect(refused).toBeInstanceOf(RpcError);
    expect(refused).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
    expect((refused as RpcError).message).toMatch(/circuit breaker for Flaky\.work on .* is open .* tried again in about \d+ ms/);
    expect(node!.calls).toBe(calls);
  });

  it('INVALID_ARGUMENT and NOT_FOUND do not open it', async () => {
    const breakers = circuitBreakers({ failures: 2, windowMs: 60_000 });
    const cluster = await setUp(2, breakers);
    const [node] = cluster.nodes;
    const [address] = cluster.addresses as [string];
    for (const behaviour of ['invalid', 'notFound'] as const) {
      node!.behaviour = behaviour;
      for (let i = 0; i < 10; i++) expect(await workOn(cluster, address)).toMatchObject({ code: behaviour === 'invalid' ? 'INVALID_ARGUMENT' : 'NOT_FOUND' });
    }
    expect(node!.calls).toBe(20);
    expect(breakers.stateOf('Flaky', 'work', address)).toBe('closed');
  });

  it('after resetTimeout one probe goes through; a success closes it and the events come in order', async () => {
    const changes: BreakerStateChange[] = [];
    const breakers = circuitBreakers({ failures: 2, windowMs: 60_000, resetTimeout: 300 }, { onStateChange: (c) => changes.push(c) });
    const seen: string[] = [];
    const unsubscribe = breakers.on('stateChange', (c) => seen.push(c.to));
    const cluster = await setUp(2, breakers);
    const [sick] = cluster.nodes;
    const [sickAddress] = cluster.addresses as [string];
    sick!.behaviour = 'unavailable';
    const started = Date.now();
    while (breakers.stateOf('Flaky', 'work', sickAddress) !== 'open') expect(await cluster.work()).toEqual({ n: 0 });
    sick!.behaviour = 'ok';
    const during = sick!.calls;
    for (let i = 0; i < 10; i++) await cluster.work();
    expect(sick!.calls).toBe(during);

    await until(() => breakers.stateOf('Flaky', 'work', sickAddress) === 'halfOpen', 2_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    // The probe: the next call the selector gives the node (round robin: within two).
    for (let i = 0; i < 4 && breakers.stateOf('Flaky', 'work', sickAddress) !== 'closed'; i++) expect(await cluster.work()).toEqual({ n: 0 });
    expect(breakers.stateOf('Flaky', 'work', sickAddress)).toBe('closed');
    expect(sick!.calls).toBe(during + 1);
    // Closed: traffic comes back (round robin), and the window started empty: one failure does not reopen it.
    const before = callCounts(cluster.nodes);
    for (let i = 0; i < 10; i++) await cluster.work();
    expect(callsSince(cluster.nodes, before)).toEqual([5, 5]);
    sick!.behaviour = 'unavailable';
    await workOn(cluster, sickAddress);
    expect(breakers.stateOf('Flaky', 'work', sickAddress)).toBe('closed');

    expect(changes.map((c) => [c.from, c.to])).toEqual([
      ['closed', 'open'],
      ['open', 'halfOpen'],
      ['halfOpen', 'closed'],
    ]);
    expect(changes[0]).toMatchObject({ service: 'Flaky', method: 'work', address: sickAddress });
    expect(changes[1]!.at - changes[0]!.at).toBeGreaterThanOrEqual(290);
    expect(seen).toEqual(['open', 'halfOpen', 'closed']);
    unsubscribe();
    await workOn(cluster, sickAddress); // second failure in the window: open again
    expect(changes.at(-1)).toMatchObject({ from: 'closed', to: 'open' });
    expect(seen).toHaveLength(3);
  });

  it('a probe that fails opens it again for another resetTimeout', async () => {
    const changes: string[] = [];
    const breakers = circuitBreakers({ failures: 1, windowMs: 60_000, resetTimeout: 200 }, { onStateChange: (c) => changes.push(`${c.from}>${c.to}`) });
    const cluster = await setUp(2, breakers);
    const [sick] = cluster.nodes;
    const [sickAddress] = cluster.addresses as [string];
    sick!.behaviour = 'unavailable';
    await workOn(cluster, sickAddress);
    await until(() => breakers.stateOf('Flaky', 'work', sickAddress) === 'halfOpen', 2_000);
    expect(await workOn(cluster, sickAddress)).toMatchObject({ code: 'UNAVAILABLE', progress: 'processed' });
    expect(breakers.stateOf('Flaky', 'work', sickAddress)).toBe('open');
    expect(changes).toEqual(['closed>open', 'open>halfOpen', 'halfOpen>open']);
  });

  it('half-open: while the probe is out, other attempts are refused and go elsewhere; a cancelled probe lets the next call probe', async () => {
    const breakers = circuitBreakers({ failures: 1, windowMs: 60_000, resetTimeout: 200 });
    const cluster = await setUp(2, breakers);
    const [sick, well] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const [sickAddress] = cluster.addresses as [string];
    sick.behaviour = 'unavailable';
    await workOn(cluster, sickAddress);
    await until(() => breakers.stateOf('Flaky', 'work', sickAddress) === 'halfOpen', 2_000);

    sick.behaviour = 'slow';
    const caller = new AbortController();
    const probe = workOn(cluster, sickAddress, { signal: caller.signal });
    await until(() => sick.calls === 2);
    // The probe is out: a call pinned there is refused without reaching it, the others go to the well node.
    const refused = await workOn(cluster, sickAddress);
    expect(refused).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
    expect((refused as RpcError).message).toMatch(/one probe call is testing this one now/);
    const wellBefore = well.calls;
    for (let i = 0; i < 6; i++) expect(await cluster.work()).toEqual({ n: 0 });
    expect(well.calls - wellBefore).toBe(6);
    expect(sick.calls).toBe(2);

    caller.abort();
    expect(await probe).toMatchObject({ code: 'CANCELLED' });
    // A cancel says nothing of the node: still half-open, and the next call is a new probe.
    expect(breakers.stateOf('Flaky', 'work', sickAddress)).toBe('halfOpen');
    sick.behaviour = 'ok';
    expect(await workOn(cluster, sickAddress)).toEqual({ n: 0 });
    expect(breakers.stateOf('Flaky', 'work', sickAddress)).toBe('closed');
  });

  it('every node open: the call fails fast with circuitOpen and reaches no server', async () => {
    const breakers = circuitBreakers({ failures: 1, windowMs: 60_000, resetTimeout: 60_000 });
    const cluster = await setUp(3, breakers);
    for (const node of cluster.nodes) node.behaviour = 'unavailable';
    expect(await cluster.work()).toMatchObject({ code: 'UNAVAILABLE' });
    for (const address of cluster.addresses) expect(breakers.stateOf('Flaky', 'work', address)).toBe('open');
    const before = callCounts(cluster.nodes);
    const started = performance.now();
    const error = await cluster.work();
    expect(performance.now() - started).toBeLessThan(100);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', progress: 'not_sent' });
    expect((error as RpcError).message).toMatch(/circuit breaker for Flaky\.work on tcp:\/\/127\.0\.0\.1:\d+ is open/);
    expect(callsSince(cluster.nodes, before)).toEqual([0, 0, 0]);
    expect(breakers.stats()).toMatchObject({ breakers: 3, open: 3, halfOpen: 0, timers: 4 });
  });

  it('settings per method: false leaves a method without breakers', async () => {
    const breakers = circuitBreakers((_service, method) => (method === 'work' ? { failures: 1, windowMs: 60_000 } : false));
    const cluster = await setUp(2, breakers);
    const [address] = cluster.addresses as [string];
    expect(await cluster.client.invoke('Flaky', 'other', { n: 1 }, { address })).toEqual({ n: 1 });
    expect(breakers.stateOf('Flaky', 'other', address)).toBeUndefined();
    await workOn(cluster, address);
    expect(breakers.stateOf('Flaky', 'work', address)).toBe('closed');
  });
});

describe('the breaker selector', () => {
  it("keeps the inner selector's report, and has none when the inner has none", () => {
    const breakers = circuitBreakers();
    cleanups.push(() => breakers.close());
    expect(breakers.selector().report).toBeUndefined();
    expect(breakers.selector(roundRobin()).report).toBeUndefined();
    const reported: (string | undefined)[] = [];
    const learning = { select: (nodes: readonly ServiceNode[]) => nodes[0]!, report: (_node: ServiceNode, error: RpcError | undefined) => reported.push(error?.code) };
    const wrapped = breakers.selector(learning);
    wrapped.report!({ address: 'a' }, undefined, 1);
    wrapped.report!({ address: 'a' }, new RpcError('INTERNAL', 'x'), 1);
    expect(reported).toEqual([undefined, 'INTERNAL']);
  });
});

describeSelectorContract('circuitBreakers().selector()', () => circuitBreakers().selector());
describeSelectorContract('circuitBreakers().selector(an inner selector with report)', () => {
  const inner = roundRobin();
  return circuitBreakers().selector({ select: (n, c, t) => inner.select(n, c, t), report: () => {} });
});
