import { inproc } from '../src/index.js';
import { describeTransportConformance } from '../src/testing/index.js';

describeTransportConformance('inproc', async () => ({ transport: inproc(), listenAddress: 'inproc://conformance' }));
