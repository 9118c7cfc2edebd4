/** One instance of a service, as a registry knows it. */
export interface ServiceNode {
  /** Where to reach it, e.g. 'tcp://10.0.0.5:8972' or '127.0.0.1:8972'. */
  readonly address: string;
  /** Relative share of calls for weighted selectors. Default 1. */
  readonly weight?: number;
  readonly version?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * Where clients learn which nodes serve a service. Static here; NATS KV, etcd and others plug in
 * through this interface. A lookup may answer synchronously (the fast path) or with a promise.
 */
export interface Registry {
  /** The nodes of a service now; an unknown service is an empty list, an unreachable registry a rejection. */
  lookup(service: string): readonly ServiceNode[] | Promise<readonly ServiceNode[]>;
  /**
   * Follows a service: `listener` gets the full list of its nodes, first the current contents (as
   * soon as they are known, possibly before watch returns), then again after every change. The
   * returned function stops it. A registry with watch is cached by the client (docs/discovery.md):
   * lookups are answered from memory, and the client still calls `lookup` now and then in case an
   * event was missed. A registry that cannot be reached delivers nothing until it can.
   */
  watch?(service: string, listener: (nodes: readonly ServiceNode[]) => void): () => void;
  /** Releases watches and connections. */
  close?(): Promise<void>;
}

/** A fixed map of service name to addresses (or nodes). */
export function staticRegistry(services: Readonly<Record<string, readonly (string | ServiceNode)[]>>): Registry {
  const table = new Map<string, readonly ServiceNode[]>();
  for (const [name, nodes] of Object.entries(services)) {
    table.set(name, Object.freeze(nodes.map((n) => (typeof n === 'string' ? { address: n } : n))));
  }
  const none: readonly ServiceNode[] = Object.freeze([]);
  return { lookup: (service) => table.get(service) ?? none };
}
