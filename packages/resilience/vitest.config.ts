import { svcVitestConfig } from '../../vitest.shared.js';

// Tests start their own servers (and redis-server) and measure rates: one file at a time keeps the shared cores calm.
export default svcVitestConfig({ test: { fileParallelism: false } });
