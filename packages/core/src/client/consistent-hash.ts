import type { Call } from '../filter/filter.js';
import type { ServiceNode } from './registry.js';
import { randomUntried, type Selector } from './selector.js';

/** Where a call's hash key comes from; undefined when the call has none. */
export type HashKey = (call: Call) => string | undefined;

export interface ConsistentHashOptions {
  /** The key a call is routed by: `keyFromMetadata('tenant')`, `keyFromRequest('userId')`, or your own. */
  key: HashKey;
  /** Points per node on the ring. More spread the keys more evenly and cost memory (8 bytes a point) and build time. Default 256. */
  replicas?: number;
}

/** The key is this request metadata entry (e.g. a tenant or session id set by the caller or a filter). */
export function keyFromMetadata(name: string): HashKey {
  return (call) => call.metadata[name];
}

/** The key is this field of the request (a string, number, bigint or boolean; anything else is no key). */
export function keyFromRequest(field: string): HashKey {
  return (call) => {
    const request = call.request;
    if (request === null || typeof request !== 'object') return undefined;
    const value = (request as Record<string, unknown>)[field];
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
    return undefined;
  };
}

const DEFAULT_REPLICAS = 256;
/** Rings kept, one per service; beyond, the oldest is dropped (and rebuilt if that service calls again). */
const MAX_RINGS = 1_000;
/** A node on a ring but in no list for this many selects of its service leaves the ring at the next check. */
const STALE_SELECTS = 10_000;

/**
 * Consistent hashing on a ring with virtual nodes: each node is `replicas` points on a ring of
 * 2^32, a key goes to the first point at or after its hash. Calls with the same key go to the
 * same node while it is listed; when a node leaves, only its keys move (to the next point's
 * node), and when one joins it takes only keys from the others. A call without a key (the key
 * function answers undefined) goes to a node at random. A retry walks on along the ring to the
 * next node not tried, so a key's retries go to the same second node. Weights are ignored: a key
 * must not move because a weight changed.
 *
 * One ring per service, built when a node appears (a sort of n × replicas points); each select
 * hashes the key and binary-searches the ring. A list that lacks some of the ring's nodes (a
 * retry's list, an ejected node, a route's subset) uses the same ring and skips what is not
 * listed, so different subsets agree: a key goes to the same node whenever that node is allowed.
 * Nodes in no list for a while leave the ring.
 */
export function consistentHash(options: ConsistentHashOptions): Selector {
  const { key } = options;
  const replicas = Math.max(1, Math.floor(options.replicas ?? DEFAULT_REPLICAS));
  const rings = new Map<string, Ring>();
  return {
    select(nodes, call, tried) {
      const k = key(call);
      if (k === undefined) return randomUntried(nodes, tried, Math.random);
      let ring = rings.get(call.service);
      if (ring === undefined || !ring.takes(nodes) || ring.hasStale()) {
        // The nodes of this list first (so that a ring of exactly them takes the fast path), then those of the old ring still in use.
        ring = new Ring(ring === undefined ? nodes.map((n) => n.address) : ring.withLive(nodes), replicas);
        ring.takes(nodes);
        if (rings.size >= MAX_RINGS && !rings.has(call.service)) rings.delete(rings.keys().next().value!);
        rings.set(call.service, ring);
      }
      return ring.pick(nodes, hashString(k), tried);
    },
  };
}

/** The points of one node set, sorted, and which node each belongs to. */
class Ring {
  /** The addresses it was built from: node i is index i here. */
  private readonly addresses: readonly string[];
  private readonly index = new Map<string, number>();
  private readonly points: Uint32Array;
  private readonly owners: Uint32Array;
  /** Per node, the stamp of the last select whose list held it (doubles: no wrap in practice). */
  private readonly listed: Float64Array;
  /** Per node, its place in that list. */
  private readonly places: Uint32Array;
  private stamp = 0;
  /** The last select whose list was exactly `addresses` (every node listed, places = indices). */
  private wholeAt = 0;
  private checkedAt = 0;

  constructor(addresses: readonly string[], replicas: number) {
    const n = addresses.length;
    this.addresses = addresses;
    addresses.forEach((address, i) => this.index.set(address, i));
    // Point and owner packed in one double (32 + 21 bits), so a numeric typed-array sort orders both.
    const packed = new Float64Array(n * replicas);
    for (let i = 0; i < n; i++) {
      const base = hashString(addresses[i]!);
      for (let r = 0; r < replicas; r++) packed[i * replicas + r] = pointOf(base, r) * 2_097_152 + i;
    }
    packed.sort();
    this.points = new Uint32Array(packed.length);
    this.owners = new Uint32Array(packed.length);
    for (let j = 0; j < packed.length; j++) {
      const owner = packed[j]! % 2_097_152;
      this.points[j] = (packed[j]! - owner) / 2_097_152;
      this.owners[j] = owner;
    }
    this.orderTies();
    this.listed = new Float64Array(n);
    this.places = new Uint32Array(n);
  }

  /** Whether this ring serves `nodes` (every listed node is on it); records them for `pick`. */
  takes(nodes: readonly ServiceNode[]): boolean {
    const stamp = ++this.stamp;
    const n = nodes.length;
    if (n === this.addresses.length) {
      // The common case, the registry's own list: its address strings are the ring's, compared by reference first.
      let i = 0;
      while (i < n && nodes[i]!.address === this.addresses[i]) i++;
      if (i === n) {
        this.wholeAt = stamp;
        return true;
      }
    }
    for (let i = 0; i < n; i++) {
      const at = this.index.get(nodes[i]!.address);
      if (at === undefined) return false;
      this.listed[at] = stamp;
      this.places[at] = i;
    }
    return true;
  }

  /** Every STALE_SELECTS selects: whether a node has been in no list for that long (then the ring is rebuilt without it). */
  hasStale(): boolean {
    if (this.stamp - this.checkedAt < STALE_SELECTS) return false;
    this.checkedAt = this.stamp;
    return this.live().length < this.addresses.length;
  }

  /** The addresses of `nodes`, then the ring's others still listed lately. */
  withLive(nodes: readonly ServiceNode[]): string[] {
    const next = nodes.map((n) => n.address);
    const mine = new Set(next);
    for (const address of this.live()) if (!mine.has(address)) next.push(address);
    return next;
  }

  private live(): string[] {
    const since = this.stamp - STALE_SELECTS;
    return this.addresses.filter((_, i) => Math.max(this.listed[i]!, this.wholeAt) > since);
  }

  /** The node of the first point at or after `hash` that is listed and not tried (or, all tried, listed). */
  pick(nodes: readonly ServiceNode[], hash: number, tried: readonly string[]): ServiceNode {
    const { points, owners, listed, stamp } = this;
    const whole = this.wholeAt === stamp;
    let j = lowerBound(points, hash);
    let fallback = -1;
    for (let s = 0; s < points.length; s++, j++) {
      if (j === points.length) j = 0;
      const owner = owners[j]!;
      if (!whole && listed[owner] !== stamp) continue;
      if (tried.length > 0 && tried.includes(this.addresses[owner]!)) {
        if (fallback < 0) fallback = owner;
        continue;
      }
      return nodes[whole ? owner : this.places[owner]!]!;
    }
    return nodes[whole ? fallback : this.places[fallback]!]!;
  }

  /** Two nodes on one point (rare: 32-bit hashes) are ordered by address, so the winner does not depend on the list's order. */
  private orderTies(): void {
    const { points, owners, addresses } = this;
    for (let j = 1; j < points.length; j++) {
      let k = j;
      while (k > 0 && points[k] === points[k - 1] && addresses[owners[k]!]! < addresses[owners[k - 1]!]!) {
        const t = owners[k]!;
        owners[k] = owners[k - 1]!;
        owners[k - 1] = t;
        k--;
      }
    }
  }
}

/** The first index whose point is ≥ `hash` (points.length when none is). */
function lowerBound(points: Uint32Array, hash: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! < hash) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Point r of a node whose address hashes to `base`. */
function pointOf(base: number, r: number): number {
  return fmix32((base ^ Math.imul(r + 1, 0x9e3779b9)) >>> 0);
}

/** FNV-1a over the UTF-16 code units, then murmur3's finalizer: FNV alone clusters similar strings ("k1", "k2"). Unsigned 32 bits. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix32(h >>> 0);
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
