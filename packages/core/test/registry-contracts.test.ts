import { memoryRegistry, type ServiceNode } from '../src/index.js';
import { describeRegistryContract } from '../src/testing/index.js';

// The registry contract with its watch tests, on the in-memory registry: nodes are registered
// through its Registrar side, as servers would.
describeRegistryContract(
  'memoryRegistry',
  async (services) => {
    const registry = memoryRegistry();
    const registrations = new Map<string, () => Promise<void>>();
    let n = 0;
    const add = async (service: string, node: ServiceNode): Promise<void> => {
      const r = await registry.register([{ ...node, service, instance: `i${++n}` }]);
      registrations.set(`${service} ${node.address}`, () => r.deregister());
    };
    for (const [service, nodes] of Object.entries(services)) for (const node of nodes) await add(service, node);
    return { registry, add, remove: async (service, address) => registrations.get(`${service} ${address}`)?.() };
  },
  { watch: true },
);
