import type { ServiceNode } from './registry.js';
import type { Call } from '../filter/filter.js';
import type { RpcError } from '../errors/rpc-error.js';

/**
 * Picks one node for an attempt. `nodes` is never empty and holds only nodes the fail mode
 * allows (failover has already left out those this call tried); `tried` lists the addresses the
 * call has tried so far, in order. When `nodes` holds both tried and untried nodes (a hedge, or a
 * failretry whose node left), a selector answers an untried one. The list is only the selector's
 * for the length of the call: it must not keep it (a wrapper may reuse one array).
 *
 * One selector serves every service of a client: state kept per node is keyed by address.
 * docs/balancing.md has the selectors and how to write one (the contract suite:
 * `describeSelectorContract` in `@svc/core/testing`).
 */
export interface Selector {
  select(nodes: readonly ServiceNode[], call: Call, tried: readonly string[]): ServiceNode;
  /**
   * Told after each attempt `select` picked: `error` undefined for a success, and the attempt's
   * latency. For selectors that learn (peak EWMA, outlier ejection). Every pick is reported once,
   * also one cancelled (a lost hedge: CANCELLED; the call's deadline: DEADLINE_EXCEEDED). A
   * selector with `report` is asked even for a list of one; attempts not picked (a pinned address,
   * failretry's retry to the same node) are not reported. A stream is reported when it ends, timed
   * to the server's first frame. A selector
   * with `report` makes every call take the attempt path (one small object more per call).
   */
  report?(node: ServiceNode, error: RpcError | undefined, latencyMs: number): void;
}

/**
 * Each node in turn. The default. A retry (the call has tried nodes) takes one of the untried
 * nodes at random instead: turning the shared counter on a shorter list would send all the
 * traffic of a dead node to the one after it (two survivors of three split 2:1, not evenly).
 */
export function roundRobin(): Selector {
  let next = 0;
  return {
    select(nodes, _call, tried) {
      if (tried.length > 0) return randomUntried(nodes, tried, Math.random);
      if (next >= nodes.length) next = 0;
      return nodes[next++]!;
    },
  };
}

/** A node at random (an untried one on a retry). */
export function randomSelector(): Selector {
  return { select: (nodes, _call, tried) => (tried.length > 0 ? randomUntried(nodes, tried, Math.random) : nodes[Math.floor(Math.random() * nodes.length)]!) };
}

/**
 * A node at random among those not in `tried`, or among all when every one was tried. Two passes
 * over the list and no array: it runs on every retry.
 */
export function randomUntried(nodes: readonly ServiceNode[], tried: readonly string[], random: () => number): ServiceNode {
  let untried = 0;
  for (let i = 0; i < nodes.length; i++) if (!tried.includes(nodes[i]!.address)) untried++;
  if (untried === 0 || untried === nodes.length) return nodes[Math.floor(random() * nodes.length)]!;
  let k = Math.floor(random() * untried);
  for (let i = 0; i < nodes.length; i++) {
    if (tried.includes(nodes[i]!.address)) continue;
    if (k-- === 0) return nodes[i]!;
  }
  return nodes[0]!; // not reached
}

/** A node's weight as a selector uses it: `weight` when it is a finite number ≥ 0, else 1. */
export function weightOf(node: ServiceNode): number {
  const w = node.weight;
  return w === undefined || !(w >= 0) || w === Infinity ? 1 : w;
}
