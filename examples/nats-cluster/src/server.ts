// One Greeter instance: node dist/server.js <nats-url> <instance-name>
// The URL may list every node of a cluster, this host's own first (nats://a:4222,b:4222,c:4222):
// it connects to the first and reconnects to the others when that one goes.
// Registers itself in the NATS KV registry, serves until SIGTERM, then drains and deregisters.
import { Server } from '@svc/core';
import { nats } from '@svc/transport-nats';
import { Greeter } from './greeter.js';

const [url = 'nats://127.0.0.1:4222', instance = `greeter-${process.pid}`] = process.argv.slice(2);

const server = new Server({ transport: nats({ name: instance, announce: { ttl: 3_000, tags: { instance } } }) });
server.register(new Greeter(instance));
const address = await server.listen(url);
console.log(JSON.stringify({ listening: address, instance }));

process.once('SIGTERM', () => {
  void server.close().then(() => {
    console.log(`[${instance}] drained and stopped`);
    process.exit(0);
  });
});
