import type { Call, Selector, ServiceNode } from '@svc/core';
import type { MethodBreakers } from './breaker-node.js';

/** What the selector needs of its breakers. */
export interface BreakerLookup {
  /** Breakers of every method that refuse calls now. */
  readonly refusing: number;
  /** The breakers of this call's method; undefined when it has none. */
  groupOf(call: Call): MethodBreakers | undefined;
}

/**
 * Wraps a selector so that it leaves out the nodes whose breaker for this call's method refuses
 * calls (open, or half-open with its probe out), so calls are not sent there only to be turned
 * back. When every node is left out, it selects from the whole list: the attempt then fails fast
 * with that breaker's circuitOpen, rather than with "no node". While no breaker refuses, a
 * select costs one check. `report` is the inner selector's, only when it has one (core sends
 * every call through the attempt path for a selector with `report`).
 */
export function breakerSelector(inner: Selector, breakers: BreakerLookup): Selector {
  // Reused for every select that leaves nodes out: a selector must not keep its list (see Selector).
  const kept: ServiceNode[] = [];
  const select = (nodes: readonly ServiceNode[], call: Call, tried: readonly string[]): ServiceNode => {
    if (breakers.refusing === 0) return inner.select(nodes, call, tried);
    const group = breakers.groupOf(call);
    if (group === undefined || group.refusing === 0) return inner.select(nodes, call, tried);
    kept.length = 0;
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      if (group.nodes.get(node.address)?.refusing !== true) kept.push(node);
    }
    if (kept.length === 0 || kept.length === nodes.length) {
      kept.length = 0;
      return inner.select(nodes, call, tried);
    }
    try {
      return inner.select(kept, call, tried);
    } finally {
      kept.length = 0;
    }
  };
  const report = inner.report;
  if (report === undefined) return { select };
  return { select, report: (node, error, latencyMs) => report.call(inner, node, error, latencyMs) };
}
