import type { ServiceNode } from './registry.js';
import type { Call } from '../filter/filter.js';
import type { RpcError } from '../errors/rpc-error.js';

/**
 * Picks one node for an attempt. `nodes` is never empty and holds only nodes the fail mode
 * allows (failover has already left out those this call tried); `tried` lists the addresses the
 * call has tried so far, in order, for selectors that want to spread a call's attempts.
 */
export interface Selector {
  select(nodes: readonly ServiceNode[], call: Call, tried: readonly string[]): ServiceNode;
  /**
   * Told after each attempt: `error` undefined for a success, and the attempt's latency. For
   * selectors that learn (peak EWMA, outlier ejection). A selector with `report` makes every call
   * take the attempt path (one small object more per call).
   */
  report?(node: ServiceNode, error: RpcError | undefined, latencyMs: number): void;
}

/**
 * Each node in turn. The default. A retry (the call has tried nodes) takes one of the nodes left at
 * random instead: turning the shared counter on a shorter list would send all the traffic of a
 * dead node to the one after it (two survivors of three split 2:1, not evenly).
 */
export function roundRobin(): Selector {
  let next = 0;
  return {
    select(nodes, _call, tried) {
      if (tried.length > 0) return nodes[Math.floor(Math.random() * nodes.length)]!;
      if (next >= nodes.length) next = 0;
      return nodes[next++]!;
    },
  };
}

/** A node at random. */
export function randomSelector(): Selector {
  return { select: (nodes) => nodes[Math.floor(Math.random() * nodes.length)]! };
}
