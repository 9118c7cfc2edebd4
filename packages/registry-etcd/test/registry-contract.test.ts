import { afterAll, beforeAll } from 'vitest';
import { Etcd3 } from 'etcd3';
import { describeRegistryContract } from '@svc/core/testing';
import type { ServiceNode } from '@svc/core';
import { etcdRegistry } from '../src/index.js';
import { EtcdCluster } from './etcd-server.js';

// The registry contract, watch tests included, against a real etcd: the rig writes the records
// servers would register, each test under a prefix of its own.
let etcd: EtcdCluster;
let raw: Etcd3;
let prefixNo = 0;

beforeAll(async () => {
  etcd = await EtcdCluster.start();
  raw = new Etcd3({ hosts: etcd.hosts });
});
afterAll(async () => {
  raw?.close();
  await etcd?.dispose();
});

describeRegistryContract(
  'etcdRegistry',
  async (services) => {
    const prefix = `/contract/${++prefixNo}`;
    const keyOf = (service: string, address: string): string => `${prefix}/${service}/${encodeURIComponent(address)}`;
    const add = async (service: string, node: ServiceNode): Promise<void> => {
      await raw.put(keyOf(service, node.address)).value(JSON.stringify({ service, instance: 'x', ...node }));
    };
    for (const [service, nodes] of Object.entries(services)) for (const node of nodes) await add(service, node);
    return {
      registry: etcdRegistry({ hosts: etcd.hosts, prefix }),
      add,
      remove: async (service, address) => void (await raw.delete().key(keyOf(service, address))),
    };
  },
  { watch: true },
);
