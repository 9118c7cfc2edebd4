/**
 * A TCP server process that registers itself, forked by the discovery scenarios:
 *   node --import tsx discovery-process.ts etcd http://127.0.0.1:<port> <name> <ttl ms>
 *   node --import tsx discovery-process.ts nats nats://127.0.0.1:<port> <name> <ttl ms>
 * Serves `Where.who` (answers its name after a few ms of work), says 'ready' once registered,
 * and closes gracefully (deregister, drain) on 'stop'.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Method, Server, Service, silentLogger, type Registrar } from '@svc/core';
import { natsRegistrar } from '@svc/transport-nats';
import { etcdRegistry } from '@svc/registry-etcd';
import { exitWithHarness, send, type ToChild } from './child-protocol.js';
import { makeTransport } from './transports.js';

@Service('Where', { version: '1.0.0' })
class Where {
  constructor(readonly name: string) {}
  @Method({ idempotent: true })
  async who(): Promise<string> {
    await sleep(2); // so that a kill finds calls in flight
    return this.name;
  }
}

const [backend, url, name, ttlArg] = process.argv.slice(2) as ['etcd' | 'nats', string, string, string];
const ttl = Number(ttlArg);
exitWithHarness();

const registrar: Registrar & { close(): Promise<void> } =
  backend === 'etcd' ? etcdRegistry({ hosts: url, ttl, logger: silentLogger }) : natsRegistrar({ servers: url, ttl, reconnectTimeWait: 100 });
const server = new Server({ transport: makeTransport('tcp'), registrar, logger: silentLogger }).register(new Where(name));
try {
  const address = await server.listen('tcp://127.0.0.1:0');
  send({ type: 'ready', address, pid: process.pid });
} catch (error) {
  send({ type: 'failed', error: String(error) });
  process.exit(1);
}

process.on('message', (message: ToChild) => {
  if (message.type === 'stop') void server.close({ drainTimeout: 1_000 }).finally(() => void registrar.close().finally(() => process.exit(0)));
});
