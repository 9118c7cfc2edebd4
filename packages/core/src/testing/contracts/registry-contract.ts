import { describe, expect, it } from 'vitest';
import type { Registry, ServiceNode } from '../../client/registry.js';

export interface RegistryRig {
  registry: Registry;
  /** Adds a node to a service, as an instance registering would: needed by the watch tests. */
  add?(service: string, node: ServiceNode): Promise<void>;
  /** Removes the node with this address from a service: needed by the watch tests. */
  remove?(service: string, address: string): Promise<void>;
  teardown?(): Promise<void>;
}

export interface RegistryContractOptions {
  /** How long a backend that learns asynchronously may take to list what was announced. Default 2 s. */
  settleMs?: number;
  /** The address of the n-th test node, for backends that only hold addresses of their own kind. Default tcp://127.0.0.1:700n. */
  address?: (n: number) => string;
  /** The registry has watch(): run the watch tests too (the rig must give add and remove). */
  watch?: boolean;
}

/** What one watch delivered, and a bounded wait for the delivery a test expects. */
interface Delivered {
  readonly lists: (readonly ServiceNode[])[];
  stop(): void;
  until(ok: (nodes: readonly ServiceNode[]) => boolean, what: string): Promise<readonly ServiceNode[]>;
}

/**
 * What every Registry must do, as vitest tests. `setup(services)` returns a registry in which
 * those services have those nodes (announcing them however the backend does); lookups may answer
 * at once or with a promise.
 */
export function describeRegistryContract(name: string, setup: (services: Record<string, ServiceNode[]>) => Promise<RegistryRig>, options: RegistryContractOptions = {}): void {
  const settleMs = options.settleMs ?? 2_000;
  const address = options.address ?? ((n: number) => `tcp://127.0.0.1:${7000 + n}`);
  const [a1, a2, a3] = [address(1), address(2), address(3)];
  const services: Record<string, ServiceNode[]> = {
    Orders: [
      { address: a1, weight: 2, version: '1.2.0', tags: { zone: 'eu' } },
      { address: a2, weight: 1, version: '1.3.0', tags: { zone: 'us' } },
    ],
    Users: [{ address: a3 }],
  };

  async function eventually(registry: Registry, service: string, want: number): Promise<readonly ServiceNode[]> {
    const end = Date.now() + settleMs;
    for (;;) {
      const found = await registry.lookup(service);
      if (found.length >= want || Date.now() > end) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  function follow(registry: Registry, service: string): Delivered {
    if (typeof registry.watch !== 'function') throw new Error(`${name} was declared with { watch: true } but its registry has no watch()`);
    const lists: (readonly ServiceNode[])[] = [];
    const stop = registry.watch(service, (nodes) => lists.push(nodes));
    return {
      lists,
      stop,
      async until(ok, what) {
        const end = Date.now() + settleMs;
        for (;;) {
          const last = lists[lists.length - 1];
          if (last !== undefined && ok(last)) return last;
          if (Date.now() > end) throw new Error(`watch of ${service}: ${what} not delivered within ${settleMs} ms; deliveries: ${JSON.stringify(lists.map((l) => l.map((n) => n.address)))}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      },
    };
  }

  const addresses = (nodes: readonly ServiceNode[]): string[] => nodes.map((n) => n.address).sort();

  function needChanges(rig: RegistryRig): Required<Pick<RegistryRig, 'add' | 'remove'>> {
    if (rig.add === undefined || rig.remove === undefined) throw new Error(`${name}: the watch tests need a rig with add() and remove()`);
    return { add: rig.add.bind(rig), remove: rig.remove.bind(rig) };
  }

  describe(`registry contract: ${name}`, () => {
    it('lists the nodes of each service, with weight, version and tags', async () => {
      const rig = await setup(services);
      try {
        const orders = await eventually(rig.registry, 'Orders', 2);
        const byAddress = new Map(orders.map((n) => [n.address, n]));
        expect([...byAddress.keys()].sort()).toEqual([a1, a2].sort());
        expect(byAddress.get(a1)).toMatchObject({ weight: 2, version: '1.2.0', tags: { zone: 'eu' } });
        expect((await eventually(rig.registry, 'Users', 1)).map((n) => n.address)).toEqual([a3]);
      } finally {
        await rig.registry.close?.();
        await rig.teardown?.();
      }
    });

    it('answers an unknown service with an empty list, not an error', async () => {
      const rig = await setup(services);
      try {
        expect(await rig.registry.lookup('NoSuchService')).toEqual([]);
      } finally {
        await rig.registry.close?.();
        await rig.teardown?.();
      }
    });

    it('cannot be changed through what it returns', async () => {
      const rig = await setup(services);
      try {
        const first = await eventually(rig.registry, 'Orders', 2);
        try {
          (first as ServiceNode[]).length = 0;
          (first as ServiceNode[]).push({ address: 'tcp://127.0.0.1:1' });
        } catch {
          // A frozen list refuses: as good.
        }
        expect((await rig.registry.lookup('Orders')).map((n) => n.address).sort()).toEqual([a1, a2].sort());
      } finally {
        await rig.registry.close?.();
        await rig.teardown?.();
      }
    });

    if (options.watch) {
      it('watch: delivers the current contents first, and an empty list for an unknown service', async () => {
        const rig = await setup(services);
        try {
          const orders = follow(rig.registry, 'Orders');
          const none = follow(rig.registry, 'NoSuchService');
          const first = await orders.until((l) => l.length === 2, 'both Orders nodes');
          expect(addresses(first)).toEqual([a1, a2].sort());
          expect(first.find((n) => n.address === a1)).toMatchObject({ weight: 2, version: '1.2.0', tags: { zone: 'eu' } });
          expect(await none.until(() => true, 'a first list')).toEqual([]);
          orders.stop();
          none.stop();
        } finally {
          await rig.registry.close?.();
          await rig.teardown?.();
        }
      });

      it('watch: pushes every change as the full list', async () => {
        const rig = await setup(services);
        const { add, remove } = needChanges(rig);
        try {
          const users = follow(rig.registry, 'Users');
          await users.until((l) => l.length === 1, 'the Users node');
          const a4 = address(4);
          await add('Users', { address: a4, version: '2.0.0' });
          expect(addresses(await users.until((l) => l.length === 2, 'the added node'))).toEqual([a3, a4].sort());
          await remove('Users', a3);
          const after = await users.until((l) => l.length === 1, 'the list without the removed node');
          expect(after.map((n) => n.address)).toEqual([a4]);
          expect(after[0]).toMatchObject({ version: '2.0.0' });
          users.stop();
        } finally {
          await rig.registry.close?.();
          await rig.teardown?.();
        }
      });

      it('watch: unsubscribing stops delivery to that listener only', async () => {
        const rig = await setup(services);
        const { add } = needChanges(rig);
        try {
          const stopped = follow(rig.registry, 'Users');
          const going = follow(rig.registry, 'Users');
          await stopped.until((l) => l.length === 1, 'the Users node');
          await going.until((l) => l.length === 1, 'the Users node');
          stopped.stop();
          const seen = stopped.lists.length;
          await add('Users', { address: address(5) });
          await going.until((l) => l.length === 2, 'the added node');
          // Whatever was on its way has had time to arrive.
          await new Promise((r) => setTimeout(r, 200));
          expect(stopped.lists.length).toBe(seen);
          going.stop();
        } finally {
          await rig.registry.close?.();
          await rig.teardown?.();
        }
      });

      it('watch: what it delivers cannot change the registry', async () => {
        const rig = await setup(services);
        try {
          const orders = follow(rig.registry, 'Orders');
          const first = await orders.until((l) => l.length === 2, 'both Orders nodes');
          try {
            (first as ServiceNode[]).length = 0;
          } catch {
            // A frozen list refuses: as good.
          }
          expect(addresses(await rig.registry.lookup('Orders'))).toEqual([a1, a2].sort());
          const second = follow(rig.registry, 'Orders');
          expect(addresses(await second.until((l) => l.length === 2, 'both Orders nodes'))).toEqual([a1, a2].sort());
          orders.stop();
          second.stop();
        } finally {
          await rig.registry.close?.();
          await rig.teardown?.();
        }
      });
    }

    it('closes, twice without harm', async () => {
      const rig = await setup(services);
      await rig.registry.close?.();
      await rig.registry.close?.();
      await rig.teardown?.();
    });
  });
}
