import { afterAll, beforeAll } from 'vitest';
import { describeTransportConformance } from '@svc/core/testing';
import { nats } from '../src/index.js';
import { NatsServerProcess } from './nats-server.js';

let natsd: NatsServerProcess;
beforeAll(async () => {
  natsd = await NatsServerProcess.start();
});
afterAll(async () => {
  await natsd?.dispose();
});

// Separate transports for server and client: each has its own NATS connection, as across hosts.
describeTransportConformance('nats (separate connections)', async () => ({
  transport: nats(),
  clientTransport: nats(),
  listenAddress: natsd.url,
}));

// One transport for both: server and client share one NATS connection.
describeTransportConformance('nats (shared connection)', async () => ({
  transport: nats(),
  listenAddress: natsd.url,
}));
