/// <reference types="node" preserve="true" />
// For tests of code that runs over NATS: a real nats-server of the test's own, on a free port.
export { NatsServerProcess, NATS_SERVER_BIN, eventually, freePort, sleep } from './nats-server.js';
