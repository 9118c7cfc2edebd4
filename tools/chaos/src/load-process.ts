/**
 * A child process that calls Echo at a steady rate, forked by the soak:
 *   node --import tsx load-process.ts <tcp|nats> <address> <concurrency> <calls per second> <deadline ms>
 * Says 'ready' once the first call has succeeded, answers 'sample' with its memory, handles and
 * call counts, and on 'stop' lets its calls in flight settle, closes the client and exits.
 */
import { Client, staticRegistry } from '@svc/core';
import { send, exitWithHarness, type ToChild } from './child-protocol.js';
import { echoCall } from './echo-service.js';
import { Load } from './load.js';
import { sampleThisProcess } from './process-sample.js';
import { makeTransport, type TransportName } from './transports.js';

const [transport, address, concurrency, rate, deadline] = process.argv.slice(2) as [TransportName, string, string, string, string];
exitWithHarness();

const client = new Client({ transport: makeTransport(transport), registry: staticRegistry({ Echo: [address] }) });
const deadlineMs = Number(deadline);
const load = new Load(echoCall(client, deadlineMs), { concurrency: Number(concurrency), ratePerSecond: Number(rate), deadlineMs });
try {
  await echoCall(client, 10_000)(-1);
} catch (error) {
  send({ type: 'failed', error: String(error) });
  process.exit(1);
}
load.start();
send({ type: 'ready', address: '', pid: process.pid });

process.on('message', (message: ToChild) => {
  if (message.type === 'sample') send({ type: 'sample', sample: sampleThisProcess(), load: load.counts });
  if (message.type === 'stop') {
    void load
      .stop(deadlineMs + 1_000)
      .then(() => client.close())
      .finally(() => process.exit(0));
  }
});
