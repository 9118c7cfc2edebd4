import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { consistentHash, keyFromMetadata, keyFromRequest, type ServiceNode } from '../src/index.js';
import { callWith, countBy, nodesOf } from './selector-calls.js';

const byTenant = () => consistentHash({ key: keyFromMetadata('tenant') });
const keys = Array.from({ length: 10_000 }, (_, i) => `tenant-${i}`);

function route(nodes: readonly ServiceNode[], selector = byTenant(), tried: readonly string[] = []): Map<string, string> {
  return new Map(keys.map((k) => [k, selector.select(nodes, callWith({ tenant: k }), tried).address]));
}

describe('consistentHash', () => {
  it('sends every call with one key to one node, across calls and selector instances', () => {
    const nodes = nodesOf(5);
    const a = byTenant();
    const b = byTenant();
    for (const k of keys.slice(0, 500)) {
      const first = a.select(nodes, callWith({ tenant: k }), []);
      for (let i = 0; i < 3; i++) expect(a.select(nodes, callWith({ tenant: k }), [])).toBe(first);
      expect(b.select(nodes, callWith({ tenant: k }), [])).toBe(first);
    }
  });

  it('spreads keys evenly enough: each of N nodes gets 1/N ± 5 % of 10k keys', () => {
    for (const n of [3, 5, 10]) {
      const counts = countBy(route(nodesOf(n)).values());
      for (const c of counts.values()) expect(Math.abs(c / keys.length - 1 / n)).toBeLessThanOrEqual(0.05);
    }
  });

  it('removing one of N nodes moves at most 1/N + 5 % of 10k keys, and only keys of that node (N = 3, 5, 10)', () => {
    for (const n of [3, 5, 10]) {
      const nodes = nodesOf(n);
      const before = route(nodes);
      for (let gone = 0; gone < n; gone++) {
        const left = nodes.filter((_, i) => i !== gone);
        const after = route(left); // a fresh selector: a new ring of n - 1 nodes
        let moved = 0;
        for (const k of keys) {
          if (after.get(k) === before.get(k)) continue;
          moved++;
          expect(before.get(k), `${k} moved, but was not on the node that left`).toBe(nodes[gone]!.address);
        }
        expect(moved / keys.length, `N = ${n}, node ${gone} left`).toBeLessThanOrEqual(1 / n + 0.05);
      }
    }
  });

  it('gives the same answer for a list in any order, and for a list that lost a node on the same selector', () => {
    const nodes = nodesOf(5);
    const selector = byTenant();
    const before = route(nodes, selector);
    expect(route([...nodes].reverse(), selector)).toEqual(before);
    expect(route([...nodes].reverse())).toEqual(before);
    // One selector, the list shrinks then grows back: keys come home.
    const shrunk = route(nodes.slice(1), selector);
    expect(shrunk).toEqual(route(nodes.slice(1)));
    expect(route(nodes, selector)).toEqual(before);
  });

  it('sends a retry to the node the key would have if the tried one were gone', () => {
    const nodes = nodesOf(5);
    const selector = byTenant();
    for (const k of keys.slice(0, 300)) {
      const first = selector.select(nodes, callWith({ tenant: k }), []);
      const left = nodes.filter((n) => n !== first);
      const expected = selector.select(left, callWith({ tenant: k }), []);
      // Hedging passes every node and what was tried; failover the untried only: the same answer.
      expect(selector.select(nodes, callWith({ tenant: k }), [first.address])).toBe(expected);
      expect(selector.select(left, callWith({ tenant: k }), [first.address])).toBe(expected);
    }
  });

  it('agrees across subsets of one service (routes, ejections): a key goes to the node a ring of that subset gives', () => {
    const all = nodesOf(6);
    const eu = all.slice(0, 4);
    const us = all.slice(3);
    const selector = byTenant();
    const fresh = { eu: route(eu), us: route(us) };
    for (let round = 0; round < 4; round++) {
      for (const k of keys.slice(0, 2_500)) {
        expect(selector.select(eu, callWith({ tenant: k }), []).address).toBe(fresh.eu.get(k));
        expect(selector.select(us, callWith({ tenant: k }), []).address).toBe(fresh.us.get(k));
      }
    }
  });

  it('sends a call without a key to a node at random', () => {
    const nodes = nodesOf(3);
    const selector = byTenant();
    const counts = countBy(Array.from({ length: 3_000 }, () => selector.select(nodes, callWith({}), []).address));
    for (const node of nodes) expect(counts.get(node.address)).toBeGreaterThan(800);
  });

  it('takes the key from a request field (string, number, bigint, boolean); anything else is no key', () => {
    const key = keyFromRequest('userId');
    expect(key(callWith({}, { userId: 'u1' }))).toBe('u1');
    expect(key(callWith({}, { userId: 42 }))).toBe('42');
    expect(key(callWith({}, { userId: 7n }))).toBe('7');
    expect(key(callWith({}, { userId: true }))).toBe('true');
    expect(key(callWith({}, { userId: { a: 1 } }))).toBeUndefined();
    expect(key(callWith({}, {}))).toBeUndefined();
    expect(key(callWith({}, null))).toBeUndefined();
    expect(key(callWith({}, 'text'))).toBeUndefined();
    const selector = consistentHash({ key });
    const nodes = nodesOf(4);
    const home = selector.select(nodes, callWith({}, { userId: 1234 }), []);
    for (let i = 0; i < 20; i++) expect(selector.select(nodes, callWith({}, { userId: 1234 }), [])).toBe(home);
  });

  it('keeps one ring per service: two services with their own nodes on one selector', () => {
    const selector = byTenant();
    const orders = nodesOf(3, '10.1.0');
    const users = nodesOf(4, '10.2.0');
    const o = new Map(keys.slice(0, 200).map((k) => [k, selector.select(orders, callWith({ tenant: k }, {}, 'Orders'), [])]));
    for (const k of keys.slice(0, 200)) {
      expect(users).toContain(selector.select(users, callWith({ tenant: k }, {}, 'Users'), []));
      expect(selector.select(orders, callWith({ tenant: k }, {}, 'Orders'), [])).toBe(o.get(k));
    }
  });

  it('property: whatever the node set, taking one node away moves only the keys it had', () => {
    const address = fc.ipV4().map((ip) => `tcp://${ip}:8972`);
    fc.assert(
      fc.property(fc.uniqueArray(address, { minLength: 2, maxLength: 12 }), fc.nat(), fc.array(fc.string(), { minLength: 50, maxLength: 50 }), (addresses, pick, someKeys) => {
        const nodes = addresses.map((a) => ({ address: a }));
        const gone = nodes[pick % nodes.length]!;
        const left = nodes.filter((n) => n !== gone);
        const selector = consistentHash({ key: keyFromMetadata('tenant'), replicas: 64 });
        for (const k of someKeys) {
          const before = selector.select(nodes, callWith({ tenant: k }), []);
          const after = selector.select(left, callWith({ tenant: k }), []);
          if (before !== gone) expect(after).toBe(before);
        }
      }),
      { numRuns: 200 },
    );
  });
});
