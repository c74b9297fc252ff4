import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The Temporal native bridge crashes the threads pool (exit 139): keep forks.
    pool: 'forks',
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.tools/**', '.tally/**'],
    globalSetup: ['test/harness/global-setup.ts'],
    setupFiles: ['test/harness/quiet-temporal.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // Two cores: integration files share one stack; run files two at a time.
    maxWorkers: 2,
  },
});
