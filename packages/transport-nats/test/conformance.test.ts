import { afterAll, beforeAll } from 'vitest';
import { describeTransportConformance } from '@svc/core/testing';
import { nats } from '../src/index.js';
import { NatsServerProcess } from '../src/testing/index.js';

let natsd: NatsServerProcess;
beforeAll(async () => {
  natsd = await NatsServerProcess.start();
});
afterAll(async () => {
  await natsd?.dispose();
});

/**
 * What NATS differs in: a draining listener serves what NATS delivered before its unsubscribe took
 * effect (later calls get no responders, not_sent), and connections break when the NATS server
 * goes (killed here, and started again for the tests after).
 */
const natsSemantics = {
  crossingClose: 'served' as const,
  async breakConnections(): Promise<void> {
    await natsd.kill();
    await natsd.start();
  },
};

// Separate transports for server and client: each has its own NATS connection, as across hosts.
describeTransportConformance('nats (separate connections)', async () => ({
  transport: nats(),
  clientTransport: nats(),
  listenAddress: natsd.url,
  ...natsSemantics,
}));

// One transport for both: server and client share one NATS connection.
describeTransportConformance('nats (shared connection)', async () => ({
  transport: nats(),
  listenAddress: natsd.url,
  ...natsSemantics,
}));
