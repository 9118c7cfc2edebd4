import { describe, expect, it } from 'vitest';
import type { Registry, ServiceNode } from '../../client/registry.js';

export interface RegistryRig {
  registry: Registry;
  teardown?(): Promise<void>;
}

export interface RegistryContractOptions {
  /** How long a backend that learns asynchronously may take to list what was announced. Default 2 s. */
  settleMs?: number;
  /** The address of the n-th test node, for backends that only hold addresses of their own kind. Default tcp://127.0.0.1:700n. */
  address?: (n: number) => string;
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

    it('closes, twice without harm', async () => {
      const rig = await setup(services);
      await rig.registry.close?.();
      await rig.registry.close?.();
      await rig.teardown?.();
    });
  });
}
