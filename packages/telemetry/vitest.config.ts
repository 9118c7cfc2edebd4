import { svcVitestConfig } from '../../vitest.shared.js';

// Tests start child processes and their own nats-server; one file at a time keeps the shared cores calm.
export default svcVitestConfig({ test: { fileParallelism: false } });
