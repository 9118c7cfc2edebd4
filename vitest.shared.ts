import { defineConfig, mergeConfig, type ViteUserConfig } from 'vitest/config';

/**
 * The test settings every package shares: tests in test/, generous timeouts for tests on real
 * sockets and servers, and a JSON report that `pnpm test` sums into its closing line.
 * A package's vitest.config.ts is `export default svcVitestConfig()`, with its own additions.
 */
export function svcVitestConfig(extra: ViteUserConfig = {}): ViteUserConfig {
  return mergeConfig(
    defineConfig({
      test: {
        include: ['test/**/*.test.ts'],
        testTimeout: 30_000,
        hookTimeout: 30_000,
        reporters: ['default', 'json'],
        outputFile: { json: 'test-results.json' },
      },
    }),
    extra,
  );
}
