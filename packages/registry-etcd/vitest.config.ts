import { svcVitestConfig } from '../../vitest.shared.js';

// Each test file starts its own etcd; one file at a time keeps the shared cores calm.
export default svcVitestConfig({ test: { fileParallelism: false } });
