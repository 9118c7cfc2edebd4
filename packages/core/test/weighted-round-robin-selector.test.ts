import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { weightedRoundRobin, type ServiceNode } from '../src/index.js';
import { countBy, plainCall } from './selector-calls.js';

const node = (name: string, weight?: number): ServiceNode => ({ address: `tcp://${name}:1`, ...(weight === undefined ? {} : { weight }) });

function picks(nodes: readonly ServiceNode[], n: number, selector = weightedRoundRobin()): string[] {
  return Array.from({ length: n }, () => selector.select(nodes, plainCall, []).address);
}

function expectShares(counts: Map<string, number>, nodes: readonly ServiceNode[], total: number): void {
  const sum = nodes.reduce((s, n) => s + (n.weight ?? 1), 0);
  for (const n of nodes) {
    const expected = (total * (n.weight ?? 1)) / sum;
    expect(Math.abs((counts.get(n.address) ?? 0) - expected), `${n.address}: ${counts.get(n.address)} of ${total}, expected ${expected}`).toBeLessThanOrEqual(expected * 0.05);
  }
}

describe('weightedRoundRobin (nginx smooth weighted round robin)', () => {
  it("gives nginx's smooth sequence for weights 5, 1, 1", () => {
    const nodes = [node('a', 5), node('b', 1), node('c', 1)];
    expect(picks(nodes, 14).map((a) => a[6])).toEqual([...'aabacaa', ...'aabacaa']);
  });

  it('spreads 10k selections by weight within 5 %', () => {
    for (const weights of [[1, 2, 3, 4], [5, 1, 1], [1, 1, 1], [0.5, 2.5, 7], [100, 1]]) {
      const nodes = weights.map((w, i) => node(`n${i}`, w));
      expectShares(countBy(picks(nodes, 10_000)), nodes, 10_000);
    }
  });

  it('treats a missing weight as 1 and gives weight 0 nothing while another node has weight', () => {
    const nodes = [node('a'), node('b', 0), node('c', 2)];
    const counts = countBy(picks(nodes, 3_000));
    expect(counts.get('tcp://b:1')).toBeUndefined();
    expect(counts.get('tcp://a:1')).toBe(1_000);
    expect(counts.get('tcp://c:1')).toBe(2_000);
  });

  it('follows the list as it changes: nodes added, removed, weights changed', () => {
    const selector = weightedRoundRobin();
    const first = [node('a', 1), node('b', 1)];
    picks(first, 101, selector);
    const second = [node('a', 1), node('b', 3), node('c', 4)]; // b heavier, c new
    expectShares(countBy(picks(second, 8_000, selector)), second, 8_000);
    const third = [node('c', 4), node('a', 1)]; // b gone, order changed
    expectShares(countBy(picks(third, 5_000, selector)), third, 5_000);
  });

  it('leaves the nodes a call tried out of the round, and spreads its retries by weight', () => {
    const selector = weightedRoundRobin();
    const nodes = [node('a', 1), node('b', 1), node('c', 2)];
    const retries = Array.from({ length: 3_000 }, () => selector.select(nodes, plainCall, ['tcp://a:1']).address);
    const counts = countBy(retries);
    expect(counts.get('tcp://a:1')).toBeUndefined();
    expect(counts.get('tcp://b:1')).toBe(1_000);
    expect(counts.get('tcp://c:1')).toBe(2_000);
  });

  it('property: after any history of list changes, a stable list is served by weight within 5 %', () => {
    const weight = fc.integer({ min: 1, max: 10 });
    const list = fc.uniqueArray(fc.record({ name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), weight }), { minLength: 1, maxLength: 6, selector: (n) => n.name });
    fc.assert(
      fc.property(fc.array(fc.tuple(list, fc.integer({ min: 1, max: 50 })), { maxLength: 10 }), list, (history, final) => {
        const selector = weightedRoundRobin();
        for (const [nodes, n] of history) picks(nodes.map((x) => node(x.name, x.weight)), n, selector);
        const nodes = final.map((x) => node(x.name, x.weight));
        const total = nodes.reduce((s, n) => s + n.weight!, 0) * 200;
        expectShares(countBy(picks(nodes, total, selector)), nodes, total);
      }),
      { numRuns: 200 },
    );
  });
});
