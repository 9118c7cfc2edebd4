import { describeTransportConformance } from '@svc/core/testing';
import { tcp } from '../src/index.js';

describeTransportConformance('tcp', async () => ({ transport: tcp(), listenAddress: 'tcp://127.0.0.1:0' }));
describeTransportConformance('tcp over IPv6 loopback', async () => ({ transport: tcp(), listenAddress: 'tcp://[::1]:0' }));
