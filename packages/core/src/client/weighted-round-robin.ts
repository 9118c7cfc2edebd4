import type { ServiceNode } from './registry.js';
import { AddressMap, type Touched } from './address-map.js';
import { randomUntried, weightOf, type Selector } from './selector.js';

/** A node's running score in nginx's smooth weighted round robin. */
interface Score extends Touched {
  current: number;
}

/** Scores of addresses not in any list for this many selects are forgotten (they restart at 0 if they come back). */
const FORGET_AFTER_SELECTS = 100_000;
const MAX_ADDRESSES = 10_000;

/**
 * Smooth weighted round robin (nginx's): each select adds every node's weight to its score,
 * takes the node with the highest score and takes the sum of the weights off it. A node of
 * weight 3 among two of weight 1 gets 3 calls in 5, spread out (a a b a c, not a a a b c).
 * Weights are `ServiceNode.weight` (default 1; a weight of 0 gets no calls while another node
 * has weight). Scores are kept per address, so a list may change between calls: a new node
 * starts at 0, a weight change counts from the next select, a node that left is forgotten. On a
 * retry the nodes already tried are left out of the round, as nginx does.
 */
export function weightedRoundRobin(): Selector {
  const scores = new AddressMap<Score>(FORGET_AFTER_SELECTS, MAX_ADDRESSES);
  let tick = 0;
  return {
    select(nodes, _call, tried) {
      // The select count is the map's clock: no time read per call.
      tick++;
      scores.maybeSweep(tick);
      const skipTried = tried.length > 0 && hasUntried(nodes, tried);
      let total = 0;
      let best: ServiceNode | undefined;
      let bestScore: Score | undefined;
      for (let i = 0; i < nodes.length; i++) {
        const node = nodes[i]!;
        const w = weightOf(node);
        if (w === 0 || (skipTried && tried.includes(node.address))) continue;
        // An object only for an address seen for the first time.
        const score = scores.get(node.address) ?? scores.add(node.address, { current: 0, touched: tick }, tick);
        score.touched = tick;
        score.current += w;
        total += w;
        if (bestScore === undefined || score.current > bestScore.current) {
          best = node;
          bestScore = score;
        }
      }
      // Every node that may be used has weight 0: weights say nothing, so any of them.
      if (bestScore === undefined) return randomUntried(nodes, tried, Math.random);
      bestScore.current -= total;
      return best!;
    },
  };
}

function hasUntried(nodes: readonly ServiceNode[], tried: readonly string[]): boolean {
  for (let i = 0; i < nodes.length; i++) if (!tried.includes(nodes[i]!.address)) return true;
  return false;
}
