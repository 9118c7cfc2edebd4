import type { ServiceNode } from './registry.js';

export interface HeartbeatOptions {
  /**
   * Asks one node whether it is well: resolves true when it is (e.g.
   * `async (node) => (await checkHealth(client, node.address)) === 'SERVING'`). False, a rejection,
   * or no answer within `timeoutMs` is a missed heartbeat.
   */
  check: (node: ServiceNode) => Promise<boolean>;
  /** Milliseconds between heartbeats of each node. Default 1 000. */
  everyMs?: number;
  /** Missed heartbeats in a row that set a node aside. Default 3. */
  misses?: number;
  /** How long one heartbeat may take, ms. Default everyMs. */
  timeoutMs?: number;
}

/** What the prober tells its owner (outlierEjection). */
export interface HeartbeatOutcome {
  missed(node: ServiceNode, inARow: number): void;
  answered(node: ServiceNode): void;
}

interface Followed {
  node: ServiceNode;
  seenAt: number;
  misses: number;
  inFlight: boolean;
}

/** A node in no list passed to select for this long is no longer sent heartbeats. */
const FORGET_AFTER_MS = 60_000;

/** Nodes followed at once; beyond, the least recently seen are dropped. */
const MAX_FOLLOWED = 1_000;

/**
 * Sends heartbeats to the nodes a selector has been given lately, so that a node that stopped
 * answering is known before a call finds out. It learns the nodes from the lists passed to
 * select, copied at most four times per period (a select costs one clock read otherwise), and
 * forgets a node not in any list for a minute (or three periods, if longer): a client that stops
 * calling a service stops its heartbeats. One heartbeat per node at a time.
 */
export class HeartbeatProber {
  private readonly options: Required<Omit<HeartbeatOptions, 'timeoutMs'>> & { timeoutMs: number };
  private readonly outcome: HeartbeatOutcome;
  private readonly followed = new Map<string, Followed>();
  private readonly timer: NodeJS.Timeout;
  private nextRecord = 0;
  private closed = false;

  constructor(options: HeartbeatOptions, outcome: HeartbeatOutcome) {
    const everyMs = options.everyMs ?? 1_000;
    if (!(everyMs > 0)) throw new RangeError(`heartbeat.everyMs must be a positive number of ms, not ${String(options.everyMs)}`);
    if (typeof options.check !== 'function') throw new TypeError('heartbeat.check must be a function (node) => Promise<boolean>');
    this.options = { check: options.check, everyMs, misses: Math.max(1, options.misses ?? 3), timeoutMs: options.timeoutMs ?? everyMs };
    this.outcome = outcome;
    this.timer = setInterval(() => this.beat(), everyMs);
    this.timer.unref();
  }

  /** From select: the nodes of a list, now and then. */
  saw(nodes: readonly ServiceNode[], now: number): void {
    if (now < this.nextRecord) return;
    this.nextRecord = now + this.options.everyMs / 4;
    for (const node of nodes) {
      const known = this.followed.get(node.address);
      if (known !== undefined) {
        known.seenAt = now;
        known.node = node;
        continue;
      }
      if (this.followed.size >= MAX_FOLLOWED) this.dropOldest();
      this.followed.set(node.address, { node, seenAt: now, misses: 0, inFlight: false });
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.followed.clear();
  }

  private beat(): void {
    const now = performance.now();
    for (const [address, f] of this.followed) {
      if (now - f.seenAt > Math.max(3 * this.options.everyMs, FORGET_AFTER_MS)) {
        this.followed.delete(address);
        continue;
      }
      if (!f.inFlight) this.probe(f);
    }
  }

  private probe(f: Followed): void {
    f.inFlight = true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.options.timeoutMs);
    });
    let answer: Promise<boolean>;
    try {
      answer = Promise.resolve(this.options.check(f.node));
    } catch {
      answer = Promise.resolve(false);
    }
    Promise.race([answer.then((ok) => ok === true, () => false), late]).then((ok) => {
      clearTimeout(timer);
      f.inFlight = false;
      if (this.closed) return;
      if (ok) {
        f.misses = 0;
        this.outcome.answered(f.node);
      } else {
        f.misses++;
        this.outcome.missed(f.node, f.misses);
      }
    });
  }

  private dropOldest(): void {
    let oldest: string | undefined;
    let at = Infinity;
    for (const [address, f] of this.followed) {
      if (f.seenAt < at) {
        at = f.seenAt;
        oldest = address;
      }
    }
    if (oldest !== undefined) this.followed.delete(oldest);
  }
}
