import type { Registry, ServiceNode } from './registry.js';
import type { Registrar, Registration, ServiceInstance } from '../server/registrar.js';

/** A registry and registrar in one process's memory: for tests, examples, and servers and clients sharing a process. */
export interface MemoryRegistry extends Registry, Registrar {
  watch(service: string, listener: (nodes: readonly ServiceNode[]) => void): () => void;
  lookup(service: string): readonly ServiceNode[];
  close(): Promise<void>;
}

const NONE: readonly ServiceNode[] = Object.freeze([]);

/**
 * Servers given it as `registrar` appear in it at listen and leave it at close; clients given it
 * as `registry` see them through its watch, synchronously.
 */
export function memoryRegistry(): MemoryRegistry {
  /** service → instance id → node */
  const services = new Map<string, Map<string, ServiceNode>>();
  const lists = new Map<string, readonly ServiceNode[]>();
  const listeners = new Map<string, Set<(nodes: readonly ServiceNode[]) => void>>();

  const listOf = (service: string): readonly ServiceNode[] => {
    let list = lists.get(service);
    if (list === undefined) {
      const nodes = services.get(service);
      list = nodes === undefined || nodes.size === 0 ? NONE : Object.freeze([...nodes.values()]);
      lists.set(service, list);
    }
    return list;
  };
  const changed = (service: string): void => {
    lists.delete(service);
    for (const listener of [...(listeners.get(service) ?? [])]) listener(listOf(service));
  };

  return {
    lookup: listOf,
    watch(service, listener) {
      let set = listeners.get(service);
      if (set === undefined) listeners.set(service, (set = new Set()));
      const own = (nodes: readonly ServiceNode[]): void => listener(nodes); // one entry per watch, even for the same function
      set.add(own);
      own(listOf(service));
      return () => {
        set.delete(own);
        if (set.size === 0 && listeners.get(service) === set) listeners.delete(service);
      };
    },
    async register(instances: readonly ServiceInstance[]): Promise<Registration> {
      for (const i of instances) {
        let nodes = services.get(i.service);
        if (nodes === undefined) services.set(i.service, (nodes = new Map()));
        nodes.set(i.instance, Object.freeze({ address: i.address, version: i.version, weight: i.weight, tags: i.tags }));
      }
      for (const service of new Set(instances.map((i) => i.service))) changed(service);
      let done = false;
      return {
        async deregister() {
          if (done) return;
          done = true;
          for (const i of instances) services.get(i.service)?.delete(i.instance);
          for (const service of new Set(instances.map((i) => i.service))) changed(service);
        },
      };
    },
    async close() {
      listeners.clear();
    },
  };
}
