import type { ServiceNode } from './registry.js';
import type { RpcError } from '../errors/rpc-error.js';
import { AddressMap, type Touched } from './address-map.js';
import { saysNodeUnwell } from './node-health.js';
import type { Selector } from './selector.js';
import { HeartbeatProber, type HeartbeatOptions } from './heartbeat-prober.js';

export interface OutlierEjectionOptions {
  /** Failures in a row (of the kinds `isFailure` counts) that set a node aside. Default 5. */
  consecutiveFailures?: number;
  /** How long the first ejection lasts, ms; the n-th lasts n times this, up to `maxEjectionMs`. Default 30 000. */
  baseEjectionMs?: number;
  /** The longest ejection, ms; also how long a node must stay well for its count of ejections to start again from 0. Default 300 000. */
  maxEjectionMs?: number;
  /** The most of a service's nodes set aside at once, in per cent, rounded down (so one of two or three, none of one). Default 50. */
  maxEjectionPercent?: number;
  /** Which failures count. Default: those that say the node is unwell (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, RESOURCE_EXHAUSTED). */
  isFailure?: (error: RpcError) => boolean;
  /** A monotonic clock in ms. Default `performance.now`. For tests. */
  now?: () => number;
  /**
   * Heartbeats to every node the selector is given, e.g. the health service:
   * `{ check: async (node) => (await checkHealth(client, node.address)) === 'SERVING' }`.
   * `misses` (default 3) missed in a row set a node aside as failures do, before a call finds out.
   */
  heartbeat?: HeartbeatOptions;
}

/** outlierEjection's selector: `close()` stops its heartbeats (the selector is yours to close, not the client's). */
export interface OutlierEjectionSelector extends Selector {
  close(): void;
}

const OK = 0;
/** Failed enough to go; set aside at the next select that has room under maxEjectionPercent. */
const FAILING = 1;
const EJECTED = 2;
/** Its ejection ended and one call (the probe) went to it; set aside until that call answers. */
const PROBING = 3;
type Status = typeof OK | typeof FAILING | typeof EJECTED | typeof PROBING;

/** What the wrapper knows of an address that failed. Addresses that never failed have no entry. */
class Health implements Touched {
  status: Status = OK;
  failures = 0;
  /** Ejections so far; the next lasts one base longer. */
  times = 0;
  /** EJECTED: when the probe may go. PROBING: when another probe may go, should this one never be reported. */
  until = 0;
  /** When it last came back from an ejection (0: never ejected). */
  backSince = 0;
  touched: number;
  constructor(now: number) {
    this.touched = now;
  }
}

const MAX_ADDRESSES = 10_000;

/**
 * Outlier ejection (Envoy's consecutive failures), around any selector: a node with
 * `consecutiveFailures` failures in a row that say it is unwell is set aside for
 * `baseEjectionMs` × the times it was ejected (capped by `maxEjectionMs`); then one call probes
 * it: a success brings it back, a failure sets it aside again, for longer. Never more than
 * `maxEjectionPercent` of the nodes of a list are set aside at once. Learns from `report` only
 * (forwarded to the inner selector too); while no node is failing, a select costs one check.
 */
export function outlierEjection(inner: Selector, options: OutlierEjectionOptions = {}): OutlierEjectionSelector {
  const threshold = Math.max(1, options.consecutiveFailures ?? 5);
  const baseMs = options.baseEjectionMs ?? 30_000;
  const maxMs = options.maxEjectionMs ?? 300_000;
  const percent = options.maxEjectionPercent ?? 50;
  const isFailure = options.isFailure ?? saysNodeUnwell;
  const now = options.now ?? (() => performance.now());
  /** Entries not OK (failing, ejected, probing): while none is, select goes straight to the inner selector. */
  let active = 0;
  const health = new AddressMap<Health>(Math.max(2 * maxMs, 600_000), MAX_ADDRESSES, (h) => {
    if (h.status !== OK) active--;
  });
  // Reused for every select that leaves nodes out: the inner selector must not keep its list (see Selector).
  const kept: ServiceNode[] = [];
  const one: ServiceNode[] = [];

  const eject = (h: Health, t: number): void => {
    if (h.backSince > 0 && t - h.backSince > maxMs) h.times = 0;
    h.times++;
    h.status = EJECTED;
    h.until = t + Math.min(baseMs * h.times, maxMs);
  };

  const setStatus = (h: Health, status: Status): void => {
    if ((h.status === OK) !== (status === OK)) active += status === OK ? -1 : 1;
    h.status = status;
  };

  /** A node that missed its heartbeats counts as failing, as if calls had failed on it. */
  const missedHeartbeats = (address: string, t: number): void => {
    const entry = health.get(address) ?? health.add(address, new Health(t), t);
    entry.touched = t;
    entry.failures = Math.max(entry.failures, threshold);
    if (entry.status === OK) setStatus(entry, FAILING);
  };
  const prober =
    options.heartbeat === undefined
      ? undefined
      : new HeartbeatProber(options.heartbeat, {
          missed: (node, inARow) => {
            if (inARow >= (options.heartbeat!.misses ?? 3)) missedHeartbeats(node.address, now());
          },
          answered: (node) => {
            // Well again before it was set aside: back to OK. An ejected node still waits for its period and a probe.
            const h = health.get(node.address);
            if (h !== undefined && h.status === FAILING) {
              h.failures = 0;
              setStatus(h, OK);
            }
          },
        });

  return {
    close() {
      prober?.close();
    },

    select(nodes, call, tried) {
      if (prober !== undefined) prober.saw(nodes, performance.now());
      if (active === 0) return inner.select(nodes, call, tried);
      const t = now();
      health.maybeSweep(t);
      // First pass: nodes of this list set aside now, and one whose ejection is over (its probe is due).
      let aside = 0;
      let failing = 0;
      let due = -1;
      for (let i = 0; i < nodes.length; i++) {
        const h = health.get(nodes[i]!.address);
        if (h === undefined) continue;
        h.touched = t;
        if (h.status === FAILING) failing++;
        else if (h.status === EJECTED || h.status === PROBING) {
          if (due < 0 && t >= h.until && !tried.includes(nodes[i]!.address)) due = i;
          else aside++;
        }
      }
      if (due >= 0) {
        const h = health.get(nodes[due]!.address)!;
        setStatus(h, PROBING);
        // Should the probe never be reported, another may go after a base period.
        h.until = t + baseMs;
        one[0] = nodes[due]!;
        const probe = inner.select(one, call, tried);
        one.length = 0;
        return probe;
      }
      const cap = Math.floor((nodes.length * percent) / 100);
      if ((aside === 0 && failing === 0) || cap === 0) return inner.select(nodes, call, tried);
      // Second pass: leave out those set aside (no more than the cap: a list that shrank may
      // have more), then set aside failing ones while there is room.
      let keepAside = Math.min(aside, cap);
      let room = cap - keepAside;
      kept.length = 0;
      for (let i = 0; i < nodes.length; i++) {
        const node = nodes[i]!;
        const h = health.get(node.address);
        if (h !== undefined) {
          if ((h.status === EJECTED || h.status === PROBING) && keepAside > 0) {
            keepAside--;
            continue;
          }
          if (h.status === FAILING && room > 0) {
            room--;
            eject(h, t);
            continue;
          }
        }
        kept.push(node);
      }
      const chosen = inner.select(kept.length > 0 ? kept : nodes, call, tried);
      kept.length = 0;
      return chosen;
    },

    report(node, error, latencyMs) {
      inner.report?.(node, error, latencyMs);
      const h = health.get(node.address);
      if (error === undefined) {
        // The common case, a node that never failed: one lookup.
        if (h === undefined) return;
        const t = now();
        h.touched = t;
        h.failures = 0;
        if (h.status === PROBING) h.backSince = t;
        if (h.status === FAILING || h.status === PROBING) setStatus(h, OK);
        // Never ejected and well again: nothing to remember (the map holds only nodes that failed).
        if (h.status === OK && h.times === 0) health.delete(node.address);
        health.maybeSweep(t);
        return;
      }
      if (!isFailure(error)) {
        // A probe that ended in a caller's mistake or a cancel says nothing: probe again at the next select.
        if (h !== undefined && h.status === PROBING) {
          h.status = EJECTED;
          h.until = 0;
        }
        return;
      }
      const t = now();
      const entry = h ?? health.add(node.address, new Health(t), t);
      entry.touched = t;
      entry.failures++;
      if (entry.status === OK && entry.failures >= threshold) setStatus(entry, FAILING);
      else if (entry.status === PROBING) eject(entry, t);
      health.maybeSweep(t);
    },
  };
}
