/** Calls and nodes for the selector tests. */
import type { Call, ServiceNode } from '../src/index.js';

const signal = new AbortController().signal;

export function callWith(metadata: Record<string, string> = {}, request: unknown = {}, service = 'S'): Call {
  return { side: 'client', kind: 'call', service, method: 'm', request, metadata, deadline: 0, signal };
}

export const plainCall = callWith();

export function nodesOf(n: number, prefix = '10.0.0'): ServiceNode[] {
  return Array.from({ length: n }, (_, i) => ({ address: `tcp://${prefix}.${i + 1}:8972` }));
}

/** A seeded generator of numbers in [0, 1) (mulberry32), for selectors that take `random`. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function countBy<T>(items: Iterable<T>): Map<T, number> {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}
