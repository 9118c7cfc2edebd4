import { afterAll, beforeAll } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { describeRegistryContract } from '@svc/core/testing';
import type { ServiceNode } from '@svc/core';
import { natsRegistry } from '../src/index.js';
import { NatsServerProcess } from '../src/testing/index.js';

// The registry contract against JetStream KV: the test writes the records servers would announce
// (with their own nats:// instance addresses, the only kind this registry holds) and reads them
// back through natsRegistry in 'instances' mode, where each instance is a node.
let natsd: NatsServerProcess;
let nc: NatsConnection;
let bucketNo = 0;

beforeAll(async () => {
  natsd = await NatsServerProcess.start();
  nc = await connect({ servers: natsd.url });
});
afterAll(async () => {
  await nc?.close();
  await natsd?.dispose();
});

describeRegistryContract(
  'natsRegistry (JetStream KV, instances)',
  async (services) => {
    const bucket = `contract_${++bucketNo}`;
    const kv = await nc.jetstream().views.kv(bucket);
    const put = async (service: string, node: ServiceNode): Promise<void> => {
      const instance = new URL(node.address).searchParams.get('instance')!;
      const record = { service, version: node.version ?? '0.0.0', address: node.address, instance, tags: node.tags ?? {}, weight: node.weight ?? 1, ttl: 60_000, started: new Date().toISOString() };
      await kv.put(`${service}.${instance}`, JSON.stringify(record));
    };
    for (const [service, nodes] of Object.entries(services)) for (const node of nodes) await put(service, node);
    const registry = natsRegistry({ servers: natsd.url, bucket, mode: 'instances' });
    await registry.ready();
    return {
      registry,
      add: put,
      remove: async (service, address) => void (await kv.delete(`${service}.${new URL(address).searchParams.get('instance')!}`)),
    };
  },
  // Addresses are only read back, never dialled: any nats:// instance address will do.
  { address: (n) => `nats://10.0.0.1:4222?instance=contract${n}`, watch: true },
);
