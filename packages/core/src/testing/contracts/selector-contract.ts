import { describe, expect, it } from 'vitest';
import type { Selector } from '../../client/selector.js';
import type { ServiceNode } from '../../client/registry.js';
import type { Call } from '../../filter/filter.js';
import { RpcError } from '../../errors/rpc-error.js';

export interface SelectorContractOptions {
  /** The selector spreads calls over equal nodes (false for one that routes by key, such as consistent hashing). Default true. */
  spreads?: boolean;
}

function callOf(i: number): Call {
  return { side: 'client', kind: 'call', service: 'Contract', method: 'm', request: { i }, metadata: { key: `k${i}` }, deadline: 0, signal: new AbortController().signal };
}

const nodes = (n: number): ServiceNode[] => Array.from({ length: n }, (_, i) => ({ address: `tcp://10.0.0.${i + 1}:8972` }));

/**
 * What every Selector must do, as vitest tests: the client hands it a non-empty list of the nodes
 * an attempt may use and the addresses the call has tried; it must answer one of those nodes,
 * whatever the list's length, its nodes' weights or how it changes between calls (also when one
 * array is reused with other nodes in it), prefer a node not tried, and take `report` without
 * throwing.
 */
export function describeSelectorContract(name: string, make: () => Selector, options: SelectorContractOptions = {}): void {
  describe(`selector contract: ${name}`, () => {
    it('answers a node of the list it is given, for lists of 1 to 7 nodes', () => {
      const selector = make();
      for (let n = 1; n <= 7; n++) {
        const list = nodes(n);
        for (let i = 0; i < 50; i++) expect(list).toContain(selector.select(list, callOf(i), []));
      }
    });

    it('copes with a list that shrinks and grows between calls', () => {
      const selector = make();
      const sizes = [5, 1, 3, 2, 6, 1, 4];
      for (let i = 0; i < 200; i++) {
        const list = nodes(sizes[i % sizes.length]!);
        expect(list).toContain(selector.select(list, callOf(i), []));
      }
    });

    it('answers from the list it is given when told what was tried (the list leaves those out already)', () => {
      const selector = make();
      const all = nodes(4);
      const untried = all.slice(2);
      for (let i = 0; i < 50; i++) expect(untried).toContain(selector.select(untried, callOf(i), [all[0]!.address, all[1]!.address]));
    });

    it('answers an untried node when the list holds tried ones too (a hedge, a failretry whose node left)', () => {
      const selector = make();
      const all = nodes(5);
      for (let i = 0; i < 100; i++) {
        const tried = [all[i % 5]!.address, all[(i + 2) % 5]!.address];
        const node = selector.select(all, callOf(i), tried);
        expect(all).toContain(node);
        expect(tried).not.toContain(node.address);
      }
      // Every node tried: any of them.
      expect(all).toContain(selector.select(all, callOf(0), all.map((n) => n.address)));
    });

    it('answers from the array as it is now, when the caller reuses one array with other nodes in it', () => {
      const selector = make();
      const list: ServiceNode[] = [];
      for (let i = 0; i < 200; i++) {
        list.length = 0;
        const size = 1 + (i % 4);
        for (let j = 0; j < size; j++) list.push({ address: `tcp://10.0.${i % 7}.${j + 1}:8972` });
        const node = selector.select(list, callOf(i), []);
        expect(list).toContain(node);
      }
    });

    it('copes with any weight a registry may give (missing, 0, fractional, huge, negative, NaN)', () => {
      const selector = make();
      const weights = [undefined, 0, 0.5, 1e9, -1, Number.NaN, 3];
      const list: ServiceNode[] = weights.map((weight, i) => ({ address: `tcp://10.0.1.${i + 1}:8972`, ...(weight === undefined ? {} : { weight }) }));
      for (let i = 0; i < 100; i++) expect(list).toContain(selector.select(list, callOf(i), []));
      const zeros: ServiceNode[] = [{ address: 'tcp://10.0.2.1:8972', weight: 0 }, { address: 'tcp://10.0.2.2:8972', weight: 0 }];
      for (let i = 0; i < 20; i++) expect(zeros).toContain(selector.select(zeros, callOf(i), []));
    });

    if (options.spreads ?? true) {
      it('gives every one of equal nodes a share of the calls', () => {
        const selector = make();
        const list = nodes(3);
        const counts = new Map<string, number>();
        for (let i = 0; i < 3_000; i++) {
          const node = selector.select(list, callOf(i), []);
          counts.set(node.address, (counts.get(node.address) ?? 0) + 1);
        }
        for (const node of list) expect(counts.get(node.address) ?? 0).toBeGreaterThan(3_000 * 0.2);
      });
    }

    it('takes reports of successes and failures without throwing, if it learns', () => {
      const selector = make();
      if (selector.report === undefined) return;
      const list = nodes(3);
      for (let i = 0; i < 100; i++) {
        const node = selector.select(list, callOf(i), []);
        selector.report(node, i % 3 === 0 ? new RpcError('UNAVAILABLE', 'down') : undefined, i % 7);
        // A report for a node no longer listed (it left the registry) must be harmless too.
        selector.report({ address: 'tcp://gone:1' }, undefined, 1);
      }
      // Cancellations (a lost hedge, the deadline), failures only, and reports of attempts it did not select (a list of one node).
      for (let i = 0; i < 100; i++) {
        const node = selector.select(list, callOf(i), []);
        selector.report(node, i % 2 === 0 ? new RpcError('CANCELLED', 'hedge lost') : new RpcError('DEADLINE_EXCEEDED', 'late'), 1_000);
        selector.report(list[0]!, new RpcError('INTERNAL', 'broke'), 0);
      }
      for (let i = 0; i < 50; i++) expect(list).toContain(selector.select(list, callOf(i), []));
    });
  });
}
