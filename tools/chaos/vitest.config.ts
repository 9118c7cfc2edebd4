import { svcVitestConfig } from '../../vitest.shared.js';

// Each chaos scenario takes 10-20 s of real traffic; each file stays well under 3 minutes. Files
// run one at a time: two suites of real processes at once on two cores would skew each other's
// timings (the hedging figures, the chaos deadlines).
export default svcVitestConfig({ test: { testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false } });
