// One Inventory server. Usage: node dist/server.js [address] [name]   (default tcp://127.0.0.1:0 server)
import { Server } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { schemas } from './generated/index.js';
import { Inventory } from './inventory.js';

const name = process.argv[3] ?? 'server';
const server = new Server({ transport: tcp(), schemas });
server.register(new Inventory(name));
const address = await server.listen(process.argv[2] ?? 'tcp://127.0.0.1:0');
console.log(`[${name}] Inventory listening on ${address} (pid ${process.pid})`);
// One JSON line for scripts that start this process and need the bound port.
console.log(JSON.stringify({ listening: address }));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void server.close().then(() => process.exit(0)));
}
