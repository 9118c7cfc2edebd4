/**
 * A child process serving Echo, forked by the launcher:
 *   node --import tsx server-process.ts tcp tcp://127.0.0.1:0
 *   node --import tsx server-process.ts nats nats://127.0.0.1:<port>
 * Says 'ready' with the address it listens on, answers 'sample', and closes gracefully (GOAWAY,
 * drain) on 'stop' or SIGTERM.
 */
import { Server, silentLogger } from '@svc/core';
import { send, exitWithHarness, type ToChild } from './child-protocol.js';
import { Echo } from './echo-service.js';
import { sampleThisProcess } from './process-sample.js';
import { makeTransport, type TransportName } from './transports.js';

const [transport, address] = process.argv.slice(2) as [TransportName, string];
exitWithHarness();

const server = new Server({ transport: makeTransport(transport), logger: silentLogger }).register(new Echo());
try {
  const bound = await server.listen(address);
  send({ type: 'ready', address: bound, pid: process.pid });
} catch (error) {
  send({ type: 'failed', error: String(error) });
  process.exit(1);
}

const closeAndExit = (): void => void server.close({ drainTimeout: 2_000 }).finally(() => process.exit(0));
process.on('SIGTERM', closeAndExit);
process.on('message', (message: ToChild) => {
  if (message.type === 'sample') send({ type: 'sample', sample: sampleThisProcess() });
  if (message.type === 'stop') closeAndExit();
});
