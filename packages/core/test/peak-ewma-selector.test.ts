import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { peakEwma, roundRobin, RpcError, type Selector, type ServiceNode } from '../src/index.js';
import { countBy, nodesOf, plainCall, seeded } from './selector-calls.js';

/** A clock the test moves. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** Selects and reports at once, with the latency `latencyOf` gives the chosen node: `n` times; the picks' addresses. */
function serve(selector: Selector, nodes: readonly ServiceNode[], n: number, latencyOf: (node: ServiceNode) => number): string[] {
  const picked: string[] = [];
  for (let i = 0; i < n; i++) {
    const node = selector.select(nodes, plainCall, []);
    selector.report!(node, undefined, latencyOf(node));
    picked.push(node.address);
  }
  return picked;
}

describe('peakEwma (power of two choices over peak-EWMA latency × load)', () => {
  it('prefers the fast node once it has seen both', () => {
    const clock = manualClock();
    const [slow, fast] = nodesOf(2);
    const selector = peakEwma({ now: clock.now, random: seeded(1) });
    serve(selector, [slow!, fast!], 2, (n) => (n === slow ? 10 : 1));
    const counts = countBy(serve(selector, [slow!, fast!], 1_000, (n) => (n === slow ? 10 : 1)));
    expect(counts.get(fast!.address)).toBe(1_000);
  });

  it('prefers the less loaded of equally fast nodes, by attempts in flight (select to report)', () => {
    const clock = manualClock();
    const [a, b] = nodesOf(2);
    const selector = peakEwma({ now: clock.now, random: seeded(2) });
    serve(selector, [a!, b!], 10, () => 2);
    // Ten calls out, not answered: they alternate, the cost of each node rising with its pending calls.
    const out = Array.from({ length: 10 }, () => selector.select([a!, b!], plainCall, []));
    const counts = countBy(out.map((n) => n.address));
    expect(counts.get(a!.address)).toBe(5);
    expect(counts.get(b!.address)).toBe(5);
    // Four of a's answered: a has 1 out, b 5.
    for (const n of out.filter((x) => x === a).slice(0, 4)) selector.report!(n, undefined, 2);
    expect(selector.select([a!, b!], plainCall, [])).toBe(a);
    expect(selector.select([a!, b!], plainCall, [])).toBe(a);
  });

  it('weighs latency against load: a node 4× slower gets calls once the fast one has 4 more in flight', () => {
    const clock = manualClock();
    const [slow, fast] = nodesOf(2);
    const selector = peakEwma({ now: clock.now, random: seeded(3) });
    serve(selector, [slow!, fast!], 2, (n) => (n === slow ? 8 : 2));
    const out = Array.from({ length: 12 }, () => selector.select([slow!, fast!], plainCall, []).address);
    // fast: 2 × (p + 1); slow: 8 × (p + 1). The first 3 go to fast (2, 4, 6 < 8), the 4th is a tie, and so on.
    expect(out.slice(0, 3)).toEqual(Array(3).fill(fast!.address));
    expect(countBy(out).get(slow!.address)).toBeGreaterThanOrEqual(1);
    expect(countBy(out).get(fast!.address)).toBeGreaterThan(countBy(out).get(slow!.address)!);
  });

  it('tries a node never seen first, and sends it nothing more until its first answer', () => {
    const clock = manualClock();
    const [known, fresh] = nodesOf(2);
    const selector = peakEwma({ now: clock.now, random: seeded(9) });
    serve(selector, [known!], 1, () => 1); // a list of one: selected and reported
    const first = selector.select([known!, fresh!], plainCall, []);
    expect(first).toBe(fresh); // cost 0: optimistic
    for (let i = 0; i < 20; i++) expect(selector.select([known!, fresh!], plainCall, [])).toBe(known); // penalty while it is out
    selector.report!(first, undefined, 1);
    expect(selector.select([known!, fresh!], plainCall, [])).toBe(fresh); // now it has a cost, and nothing in flight
  });

  it('takes a latency peak at once and comes down with the decay time', () => {
    const clock = manualClock();
    const [a, b] = nodesOf(2);
    const selector = peakEwma({ now: clock.now, decayMs: 1_000, random: seeded(8) });
    serve(selector, [a!, b!], 2, () => 2);
    // One slow answer from a: a is avoided at once.
    for (let n = selector.select([a!, b!], plainCall, []); ; n = selector.select([a!, b!], plainCall, [])) {
      selector.report!(n, undefined, n === a ? 50 : 2);
      if (n === a) break;
    }
    expect(countBy(serve(selector, [a!, b!], 50, () => 2)).get(a!.address)).toBeUndefined();
    // Answers at 2 ms from b while time passes; a's cost decays toward 0 and it is tried again within a few decay times.
    let back = -1;
    for (let step = 0; step < 100 && back < 0; step++) {
      clock.advance(100);
      if (serve(selector, [a!, b!], 1, () => 2)[0] === a!.address) back = step;
    }
    expect(back).toBeGreaterThan(5);
    expect(back).toBeLessThan(60);
  });

  it('does not let a node that fails fast look fast, nor a lost hedge look fast', () => {
    const clock = manualClock();
    const [bad, good] = nodesOf(2);
    const selector = peakEwma({ now: clock.now, random: seeded(4) });
    serve(selector, [bad!, good!], 2, () => 3);
    let toBad = 0;
    for (let i = 0; i < 200; i++) {
      const node = selector.select([bad!, good!], plainCall, []);
      if (node === bad) {
        toBad++;
        selector.report!(node, new RpcError('UNAVAILABLE', 'down'), 0);
      } else {
        selector.report!(node, undefined, 3);
      }
    }
    expect(toBad).toBeLessThanOrEqual(2);
    // Cancelled after 0 ms (a hedge that lost at once): the cost stays where it was.
    const other = peakEwma({ now: clock.now, random: seeded(5) });
    serve(other, [bad!, good!], 2, (n) => (n === bad ? 10 : 3));
    for (let i = 0; i < 50; i++) other.report!(bad!, new RpcError('CANCELLED', 'hedge lost'), 0);
    expect(countBy(serve(other, [bad!, good!], 20, (n) => (n === bad ? 10 : 3))).get(bad!.address)).toBeUndefined();
  });

  it('draws two distinct nodes without bias, and prefers untried nodes on a retry', () => {
    const nodes = nodesOf(5);
    const selector = peakEwma({ random: seeded(6) });
    // No latency known and calls never answered: every node gets its share through the load term.
    const counts = countBy(Array.from({ length: 5_000 }, () => selector.select(nodes, plainCall, []).address));
    for (const node of nodes) expect(Math.abs(counts.get(node.address)! - 1_000)).toBeLessThanOrEqual(10);
    const tried = [nodes[0]!.address, nodes[1]!.address, nodes[2]!.address];
    for (let i = 0; i < 200; i++) expect(tried).not.toContain(selector.select(nodes, plainCall, tried).address);
  });

  it('never counts below zero: reports of attempts it did not select, and of nodes it never saw, are harmless', () => {
    const clock = manualClock();
    const [a, b] = nodesOf(2);
    const selector = peakEwma({ now: clock.now, random: seeded(10) });
    serve(selector, [a!, b!], 4, () => 2);
    for (let i = 0; i < 10; i++) selector.report!(a!, undefined, 2);
    selector.report!({ address: 'tcp://pinned:1' }, undefined, 1);
    // Were a's count negative, a would win every draw: it alternates instead.
    const out = Array.from({ length: 6 }, () => selector.select([a!, b!], plainCall, []).address);
    expect(countBy(out).get(a!.address)).toBe(3);
  });

  it('rejects a decay time that is not positive', () => {
    expect(() => peakEwma({ decayMs: 0 })).toThrow(RangeError);
    expect(() => peakEwma({ decayMs: Number.NaN })).toThrow(RangeError);
  });

  it('simulated closed loop (C = 32, one of three nodes 5 ms slower): P2C sends it a few % of calls, round robin a third', () => {
    const share = (selector: Selector, clock: ReturnType<typeof manualClock>): number => simulate(selector, clock, nodesOf(3), [1, 1, 6], 32, 20_000);
    const c1 = manualClock();
    const p2c = share(peakEwma({ now: c1.now, random: seeded(7) }), c1);
    const rr = share(roundRobin(), manualClock());
    expect(rr).toBeCloseTo(1 / 3, 2);
    expect(p2c).toBeLessThan(0.02);
  });

  it('property: in any simulated cluster, P2C never sends the slowest node more than round robin would', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 2, maxLength: 6 }), fc.integer({ min: 1, max: 64 }), fc.nat(), (latencies, concurrency, seed) => {
        const clock = manualClock();
        const nodes = nodesOf(latencies.length);
        const slowest = latencies.indexOf(Math.max(...latencies));
        const p2c = simulate(peakEwma({ now: clock.now, random: seeded(seed) }), clock, nodes, latencies, concurrency, 2_000, slowest);
        expect(p2c).toBeLessThanOrEqual(1 / latencies.length + 0.02);
      }),
      { numRuns: 100 },
    );
  });
});

/**
 * `concurrency` callers in a closed loop against nodes with fixed latencies (ms, on the manual
 * clock), `calls` calls in all; answers the share of calls node `watch` (default the last) got.
 */
function simulate(selector: Selector, clock: ReturnType<typeof manualClock>, nodes: readonly ServiceNode[], latencies: readonly number[], concurrency: number, calls: number, watch = nodes.length - 1): number {
  const due: { at: number; node: number }[] = [];
  let sent = 0;
  let watched = 0;
  const send = (): void => {
    const node = selector.select(nodes, plainCall, []);
    const i = nodes.indexOf(node);
    if (i === watch) watched++;
    sent++;
    due.push({ at: clock.now() + latencies[i]!, node: i });
  };
  for (let c = 0; c < concurrency; c++) send();
  while (sent < calls) {
    let next = 0;
    for (let j = 1; j < due.length; j++) if (due[j]!.at < due[next]!.at) next = j;
    const { at, node } = due.splice(next, 1)[0]!;
    clock.advance(at - clock.now());
    selector.report?.(nodes[node]!, undefined, latencies[node]!);
    send();
  }
  return watched / sent;
}
