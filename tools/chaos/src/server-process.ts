/**
 * A child process serving Echo, forked by the launcher:
 *   node --import tsx server-process.ts tcp tcp://127.0.0.1:0
 *   node --import tsx server-process.ts nats nats://127.0.0.1:<port>
 * Says 'ready' with the address it listens on, answers 'sample' and 'counts', and closes
 * gracefully (GOAWAY, drain) on 'stop' or SIGTERM.
 *
 * How it misbehaves, for the fail-mode scenarios, comes from its environment (all optional):
 *   ECHO_FAIL_RATE=0.5        a share of get and put calls fail with UNAVAILABLE
 *   ECHO_SLOW_RATE=0.05       a share of get calls answer ECHO_SLOW_MS (default 200) late
 *   ECHO_JOURNAL=<file>       each put appends its id to this file before it answers
 */
import { openSync } from 'node:fs';
import { Server, silentLogger } from '@svc/core';
import { send, exitWithHarness, type ToChild } from './child-protocol.js';
import { Echo, type EchoBehaviour } from './echo-service.js';
import { sampleThisProcess } from './process-sample.js';
import { makeTransport, type TransportName } from './transports.js';

const [transport, address] = process.argv.slice(2) as [TransportName, string];
exitWithHarness();

const env = process.env;
const behaviour: EchoBehaviour = {};
if (env['ECHO_FAIL_RATE']) behaviour.failRate = Number(env['ECHO_FAIL_RATE']);
if (env['ECHO_SLOW_RATE']) {
  behaviour.slowRate = Number(env['ECHO_SLOW_RATE']);
  behaviour.slowMs = Number(env['ECHO_SLOW_MS'] ?? 200);
}
// Written with writeSync: an id the handler journaled is in the file even if this process is kill -9ed right after.
if (env['ECHO_JOURNAL']) behaviour.journalFd = openSync(env['ECHO_JOURNAL'], 'a');
const echo = new Echo(behaviour);

const server = new Server({ transport: makeTransport(transport), logger: silentLogger }).register(echo);
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
  if (message.type === 'counts') send({ type: 'counts', counts: { ...echo.counts } });
  if (message.type === 'stop') closeAndExit();
});
