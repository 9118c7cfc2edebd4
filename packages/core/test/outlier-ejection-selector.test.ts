import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { outlierEjection, roundRobin, RpcError, type Selector, type ServiceNode } from '../src/index.js';
import { countBy, nodesOf, plainCall } from './selector-calls.js';

function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const down = (): RpcError => new RpcError('UNAVAILABLE', 'down');

/** Addresses `selector` answers in `n` selects over `nodes` (each reported a success, so nothing changes). */
function answered(selector: Selector, nodes: readonly ServiceNode[], n = 60): Set<string> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(selector.select(nodes, plainCall, []).address);
  return seen;
}

function fail(selector: Selector, node: ServiceNode, times: number, error: () => RpcError = down): void {
  for (let i = 0; i < times; i++) selector.report!(node, error(), 1);
}

describe('outlierEjection', () => {
  it('sets a node aside after 5 unwell failures in a row, not after 4, and a success starts the count again', () => {
    const clock = manualClock();
    const nodes = nodesOf(3);
    const selector = outlierEjection(roundRobin(), { now: clock.now });
    fail(selector, nodes[0]!, 4);
    expect(answered(selector, nodes)).toContain(nodes[0]!.address);
    selector.report!(nodes[0]!, undefined, 1);
    fail(selector, nodes[0]!, 4);
    expect(answered(selector, nodes)).toContain(nodes[0]!.address);
    fail(selector, nodes[0]!, 1);
    expect(answered(selector, nodes)).not.toContain(nodes[0]!.address);
  });

  it('counts only failures that say the node is unwell, not a caller’s mistake or a cancel', () => {
    const clock = manualClock();
    const nodes = nodesOf(3);
    const selector = outlierEjection(roundRobin(), { now: clock.now, consecutiveFailures: 3 });
    for (const code of ['INVALID_ARGUMENT', 'NOT_FOUND', 'CANCELLED', 'PERMISSION_DENIED', 'FAILED_PRECONDITION', 'UNIMPLEMENTED'] as const) {
      fail(selector, nodes[0]!, 10, () => new RpcError(code, 'no'));
    }
    expect(answered(selector, nodes)).toContain(nodes[0]!.address);
    for (const code of ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'INTERNAL', 'RESOURCE_EXHAUSTED'] as const) {
      const other = outlierEjection(roundRobin(), { now: clock.now, consecutiveFailures: 3 });
      fail(other, nodes[1]!, 3, () => new RpcError(code, 'unwell'));
      expect(answered(other, nodes), code).not.toContain(nodes[1]!.address);
    }
  });

  it('probes the node with one call when its ejection is over; a success brings it back', () => {
    const clock = manualClock();
    const nodes = nodesOf(3);
    const selector = outlierEjection(roundRobin(), { now: clock.now, baseEjectionMs: 10_000 });
    fail(selector, nodes[0]!, 5);
    expect(answered(selector, nodes)).not.toContain(nodes[0]!.address);
    clock.advance(9_999);
    expect(answered(selector, nodes)).not.toContain(nodes[0]!.address);
    clock.advance(1);
    const probe = selector.select(nodes, plainCall, []);
    expect(probe).toBe(nodes[0]);
    // Until the probe answers, no other call goes there.
    expect(answered(selector, nodes)).not.toContain(nodes[0]!.address);
    selector.report!(probe, undefined, 1);
    expect(countBy(Array.from({ length: 300 }, () => selector.select(nodes, plainCall, []).address)).get(nodes[0]!.address)).toBe(100);
  });

  it('sets a node aside for longer each time its probe fails: base × times, capped', () => {
    const clock = manualClock();
    const nodes = nodesOf(3);
    const selector = outlierEjection(roundRobin(), { now: clock.now, baseEjectionMs: 1_000, maxEjectionMs: 3_500 });
    fail(selector, nodes[0]!, 5);
    answered(selector, nodes, 3); // the select that sets it aside
    const periods: number[] = [];
    for (let round = 0; round < 5; round++) {
      let waited = 0;
      for (;;) {
        clock.advance(100);
        waited += 100;
        const node = selector.select(nodes, plainCall, []);
        if (node === nodes[0]) {
          selector.report!(node, down(), 1); // the probe fails
          break;
        }
      }
      periods.push(waited);
    }
    expect(periods).toEqual([1_000, 2_000, 3_000, 3_500, 3_500]);
  });

  it('never sets aside more than half of a list (rounded down): none of 1, 1 of 2 or 3, 2 of 4 or 5', () => {
    for (const [n, most] of [[1, 0], [2, 1], [3, 1], [4, 2], [5, 2], [10, 5]] as const) {
      const clock = manualClock();
      const nodes = nodesOf(n);
      const selector = outlierEjection(roundRobin(), { now: clock.now });
      for (const node of nodes) fail(selector, node, 10);
      expect(n - answered(selector, nodes, 200).size, `${n} nodes`).toBe(most);
    }
  });

  it('lets back nodes set aside beyond the cap when the list shrinks, and keeps others’ ejections to their own lists', () => {
    const clock = manualClock();
    const nodes = nodesOf(4);
    const selector = outlierEjection(roundRobin(), { now: clock.now });
    fail(selector, nodes[0]!, 5);
    fail(selector, nodes[1]!, 5);
    expect(answered(selector, nodes)).toEqual(new Set([nodes[2]!.address, nodes[3]!.address]));
    // Two healthy nodes leave: of three, only one may be aside.
    const three = [nodes[0]!, nodes[1]!, nodes[2]!];
    expect(answered(selector, three).size).toBe(2);
    // Another service's list, all healthy, is untouched.
    const other = nodesOf(3, '10.9.0');
    expect(answered(selector, other).size).toBe(3);
  });

  it('costs one check per select while nothing fails: the inner selector gets the very list', () => {
    const lists: (readonly ServiceNode[])[] = [];
    const inner: Selector = { select: (nodes) => (lists.push(nodes), nodes[0]!) };
    const selector = outlierEjection(inner);
    const nodes = nodesOf(3);
    for (let i = 0; i < 10; i++) selector.report!(selector.select(nodes, plainCall, []), undefined, 1);
    expect(lists.every((l) => l === nodes)).toBe(true);
  });

  it('forwards every report to the inner selector', () => {
    const reports: string[] = [];
    const inner: Selector = { select: (nodes) => nodes[0]!, report: (node, error) => reports.push(`${node.address} ${error?.code ?? 'ok'}`) };
    const selector = outlierEjection(inner);
    selector.report!({ address: 'a' }, undefined, 1);
    selector.report!({ address: 'b' }, down(), 1);
    expect(reports).toEqual(['a ok', 'b UNAVAILABLE']);
  });

  it('stays fast and correct while a registry churns addresses (its state is bounded: see AddressMap)', () => {
    const clock = manualClock();
    const selector = outlierEjection(roundRobin(), { now: clock.now, maxEjectionMs: 1_000, baseEjectionMs: 100 });
    const steady = [{ address: 'tcp://steady:1' }, { address: 'tcp://steady:2' }];
    const error = down(); // one: an RpcError's stack costs more than all the rest
    const started = performance.now();
    // 30k addresses (three times the most it keeps), each failing 5 times and listed once; the clock moves 1 ms per address.
    let wrong = 0;
    for (let i = 0; i < 30_000; i++) {
      const node = { address: `tcp://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${i}` };
      fail(selector, node, 5, () => error);
      if (selector.select([node, ...steady], plainCall, []) === node) wrong++;
      clock.advance(1);
    }
    expect(wrong).toBe(0);
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(answered(selector, steady).size).toBe(2);
  });

  it('property: whatever the failures and the clock, a select leaves out at most half of its list, or probes one node', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('fail' as const), node: fc.nat(7), code: fc.constantFrom('UNAVAILABLE', 'INTERNAL', 'NOT_FOUND' as const) }),
      fc.record({ kind: fc.constant('ok' as const), node: fc.nat(7) }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 5_000 }) }),
      fc.record({ kind: fc.constant('select' as const), size: fc.integer({ min: 1, max: 8 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const clock = manualClock();
        const nodes = nodesOf(8);
        let given: readonly ServiceNode[] = [];
        // A copy: the wrapper reuses its array, and a selector must not keep the list.
        const inner: Selector = { select: (list) => ((given = [...list]), list[0]!) };
        const selector = outlierEjection(inner, { now: clock.now, consecutiveFailures: 2, baseEjectionMs: 1_000 });
        for (const s of steps) {
          if (s.kind === 'fail') selector.report!(nodes[s.node]!, new RpcError(s.code, 'x'), 1);
          else if (s.kind === 'ok') selector.report!(nodes[s.node]!, undefined, 1);
          else if (s.kind === 'wait') clock.advance(s.ms);
          else {
            const list = nodes.slice(0, s.size);
            const node = selector.select(list, plainCall, []);
            expect(list).toContain(node);
            const probe = given.length === 1 && list.length > 1;
            if (!probe) expect(given.length).toBeGreaterThanOrEqual(list.length - Math.floor(list.length / 2));
            for (const g of given) expect(list).toContain(g);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
