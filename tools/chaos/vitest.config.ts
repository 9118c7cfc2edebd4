import { svcVitestConfig } from '../../vitest.shared.js';

// Each chaos scenario takes 10-20 s of real traffic; the whole file stays well under 3 minutes.
export default svcVitestConfig({ test: { testTimeout: 60_000, hookTimeout: 60_000 } });
