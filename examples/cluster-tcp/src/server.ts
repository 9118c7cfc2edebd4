// One Inventory server that registers itself in etcd. Usage:
//   ETCD_ENDPOINTS=http://127.0.0.1:2379 node dist/server.js [address] [name]   (default tcp://127.0.0.1:0 server)
// listen() resolves once the listener is registered (one lease of LEASE_TTL_MS, kept alive);
// SIGINT or SIGTERM deregisters it (the lease is revoked), drains the calls in flight and exits.
import { Server } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { etcdFromEnv, etcdHosts, LEASE_TTL_MS } from './discovery.js';
import { schemas } from './generated/index.js';
import { Inventory } from './inventory.js';

const name = process.argv[3] ?? 'server';
const etcd = etcdFromEnv();
// The tag travels with the registration: clients see which node is which by name.
const server = new Server({ transport: tcp(), schemas, registrar: etcd, tags: { name } });
server.register(new Inventory(name));
let address: string;
try {
  address = await server.listen(process.argv[2] ?? 'tcp://127.0.0.1:0');
} catch (error) {
  console.error(`[${name}] cannot listen and register in etcd at ${etcdHosts()}: ${String(error)}`);
  await etcd.close();
  process.exit(1);
}
const registeredAt = Date.now();
console.log(`[${name}] Inventory on ${address}, registered in etcd (lease ttl ${LEASE_TTL_MS / 1000} s, pid ${process.pid})`);
// One JSON line for scripts that start this process: the bound port, and when it was registered.
console.log(JSON.stringify({ listening: address, registeredAt }));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void server.close().finally(() => void etcd.close().finally(() => process.exit(0))));
}
