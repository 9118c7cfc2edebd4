// The Arith server. Usage: node dist/server.js [address]   (default tcp://127.0.0.1:8972)
import { Server } from '@svc/core';
import { tcp } from '@svc/transport-tcp';
import { Arith } from './arith.js';
import { schemas } from './generated/index.js';

// `schemas` (from svc-gen): Arith's calls travel as protobuf, checked against its types.
const server = new Server({ transport: tcp(), schemas });
server.register(new Arith());
const address = await server.listen(process.argv[2] ?? 'tcp://127.0.0.1:8972');
console.log(`[server] Arith listening on ${address}`);
// One JSON line for scripts that start this process and need the bound port.
console.log(JSON.stringify({ listening: address }));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`[server] ${signal}: draining calls in flight, then closing`);
    void server.close().then(() => process.exit(0));
  });
}
