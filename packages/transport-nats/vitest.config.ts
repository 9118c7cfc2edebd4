import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each test file starts its own nats-server; one file at a time keeps the shared cores calm.
    fileParallelism: false,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results.json' },
  },
});
