import type { ServiceNode } from './registry.js';
import type { RpcError } from '../errors/rpc-error.js';
import { AddressMap, type Touched } from './address-map.js';
import { saysNodeUnwell } from './node-health.js';
import { weightOf, type Selector } from './selector.js';

export interface PeakEwmaOptions {
  /**
   * The time constant of the latency average, ms: a node that got faster is believed after about
   * this long (a slower one at once). Default 10 000, as Finagle and Linkerd.
   */
  decayMs?: number;
  /** A monotonic clock in ms. Default `performance.now`. For tests. */
  now?: () => number;
  /** Numbers in [0, 1). Default `Math.random`. For tests. */
  random?: () => number;
}

/** What the selector knows of one address. */
class Load implements Touched {
  /** Attempts selected and not yet reported. */
  pending = 0;
  /** Peak EWMA of latency, ms, as of `stamp`. */
  cost = 0;
  stamp = 0;
  /** Whether any latency was observed. */
  seen = false;
  touched: number;
  constructor(now: number) {
    this.touched = now;
  }
}

/** Finagle's: a node with no latency yet and an attempt out waits for that attempt's answer before it gets another. */
const PENALTY = 1e12;
/** Latencies arrive in whole ms: a node answering in under 1 ms may average 0, and its load must still count. */
const MIN_COST_MS = 0.01;
/** An unwell failure (UNAVAILABLE, …) counts as at least twice the current cost, so a node that fails fast does not look fast. */
const FAILURE_FACTOR = 2;
const FAILURE_MIN_MS = 1;
const MAX_ADDRESSES = 10_000;

/**
 * Power of two choices over peak-EWMA latency (Finagle's `PeakEwma` + P2C, as in Linkerd): each
 * select draws two distinct nodes at random and takes the one with the lower cost, the moving
 * average of its latency times its attempts in flight plus one (divided by its weight). The
 * average jumps at once to a latency above it and comes down with `decayMs`, so a node that
 * slowed is avoided at once and trusted again slowly. A node never seen costs 0 (it is tried)
 * until its first attempt is out, then it waits for that answer. An idle node's cost decays
 * toward 0 with time, so a node once slow is tried again. Attempts in flight are counted from
 * select to report. Failures that say the node is unwell raise its cost (twice, at least);
 * CANCELLED (a lost hedge) counts only when it took longer than the node's cost. For nodes that
 * fail, wrap it: `outlierEjection(peakEwma())`.
 */
export function peakEwma(options: PeakEwmaOptions = {}): Selector {
  const tau = options.decayMs ?? 10_000;
  if (!(tau > 0)) throw new RangeError(`peakEwma: decayMs must be a positive number of ms, not ${String(options.decayMs)}`);
  const now = options.now ?? (() => performance.now());
  const random = options.random ?? Math.random;
  // Forgotten after a few time constants: by then what was learned has decayed anyway.
  const loads = new AddressMap<Load>(Math.max(60_000, 6 * tau), MAX_ADDRESSES);

  const loadOf = (node: ServiceNode, t: number): Load => loads.get(node.address) ?? loads.add(node.address, new Load(t), t);

  const costOf = (node: ServiceNode, load: Load, t: number): number => {
    const weight = weightOf(node);
    if (weight === 0) return Infinity;
    if (!load.seen) return load.pending === 0 ? 0 : PENALTY + load.pending;
    const decayed = load.cost * Math.exp((load.stamp - t) / tau);
    return ((decayed > MIN_COST_MS ? decayed : MIN_COST_MS) * (load.pending + 1)) / weight;
  };

  const start = (node: ServiceNode, load: Load, t: number): ServiceNode => {
    load.pending++;
    load.touched = t;
    return node;
  };

  /** The cheapest node not tried; every node is costed (a retry that every other draw had tried: rare). */
  const cheapestUntried = (nodes: readonly ServiceNode[], tried: readonly string[], t: number): number => {
    let best = -1;
    let bestCost = Infinity;
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      if (tried.includes(node.address)) continue;
      const cost = costOf(node, loadOf(node, t), t);
      if (best < 0 || cost < bestCost) {
        best = i;
        bestCost = cost;
      }
    }
    return best;
  };

  return {
    select(nodes, _call, tried) {
      const t = now();
      loads.maybeSweep(t);
      const n = nodes.length;
      if (n === 1) return start(nodes[0]!, loadOf(nodes[0]!, t), t);
      // Two distinct indices, no array: b is drawn from the n - 1 others.
      let a = Math.floor(random() * n);
      let b = Math.floor(random() * (n - 1));
      if (b >= a) b++;
      if (tried.length > 0) {
        const aTried = tried.includes(nodes[a]!.address);
        const bTried = tried.includes(nodes[b]!.address);
        if (aTried !== bTried) {
          const i = aTried ? b : a;
          return start(nodes[i]!, loadOf(nodes[i]!, t), t);
        }
        if (aTried) {
          const i = cheapestUntried(nodes, tried, t);
          if (i >= 0) return start(nodes[i]!, loadOf(nodes[i]!, t), t);
        }
      }
      const la = loadOf(nodes[a]!, t);
      const lb = loadOf(nodes[b]!, t);
      return costOf(nodes[a]!, la, t) <= costOf(nodes[b]!, lb, t) ? start(nodes[a]!, la, t) : start(nodes[b]!, lb, t);
    },

    report(node, error, latencyMs) {
      // A node never selected (a pinned address, a list of one) or forgotten: nothing to learn into.
      const load = loads.get(node.address);
      if (load === undefined) return;
      const t = now();
      if (load.pending > 0) load.pending--;
      load.touched = t;
      observe(load, latencyMs, error, t, tau);
    },
  };
}

function observe(load: Load, latencyMs: number, error: RpcError | undefined, t: number, tau: number): void {
  const rtt = latencyMs > 0 ? latencyMs : 0;
  const w = load.seen ? Math.exp((load.stamp - t) / tau) : 0;
  const decayed = load.cost * w;
  if (error !== undefined && saysNodeUnwell(error)) {
    load.cost = Math.max(rtt, decayed * FAILURE_FACTOR, FAILURE_MIN_MS);
  } else if (error !== undefined && error.code === 'CANCELLED') {
    // Cut short (a hedge lost, the caller gave up): the node took at least this long, maybe more.
    if (rtt <= decayed || (!load.seen && rtt === 0)) return;
    load.cost = rtt;
  } else {
    // A success, or an answer of the handler's (NOT_FOUND, …): real work, a real latency.
    // Peak: a latency above the average is taken at once; one below pulls it down by the time since the last.
    load.cost = rtt > decayed ? rtt : load.cost * w + rtt * (1 - w);
  }
  load.stamp = t;
  load.seen = true;
}
