import { svcVitestConfig } from '../../vitest.shared.js';

export default svcVitestConfig();
