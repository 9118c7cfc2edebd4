import type { ServiceNode } from './registry.js';
import type { Call } from '../filter/filter.js';

/** Picks one node for a call. Given a non-empty list. */
export interface Selector {
  select(nodes: readonly ServiceNode[], call: Call): ServiceNode;
}

/** Each node in turn. The default. */
export function roundRobin(): Selector {
  let next = 0;
  return {
    select(nodes) {
      if (next >= nodes.length) next = 0;
      return nodes[next++]!;
    },
  };
}

/** A node at random. */
export function randomSelector(): Selector {
  return { select: (nodes) => nodes[Math.floor(Math.random() * nodes.length)]! };
}
