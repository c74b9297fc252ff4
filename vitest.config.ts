import { defineConfig } from 'vitest/config';

const EXCLUDED = ['node_modules/**', '.tools/**', '.tally/**'];
/**
 * Pure code (domain/, contracts/): its colocated tests need no services and run in seconds. The
 * activity contracts' test only builds the activity objects (no connection) to compare them with contracts/.
 */
const UNIT = ['domain/**/*.test.ts', 'contracts/**/*.test.ts', 'activities/activity-contracts.test.ts'];

export default defineConfig({
  test: {
    // The Temporal native bridge crashes the threads pool (exit 139): keep forks.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // expect.poll waits for something the stack or the browser does (a flash after a decision, a row
    // after a run): its 1 s default failed a console test at load 12 on two cores. A wrong result
    // still fails, only later.
    expect: { poll: { timeout: 15_000 } },
    // Two cores: integration files share one stack; run files two at a time.
    maxWorkers: 2,
    // `npm test` runs both; `npm run test:unit` only the first, without starting the stack.
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT, exclude: EXCLUDED } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['**/*.test.ts'],
          exclude: [...EXCLUDED, ...UNIT],
          globalSetup: ['test/harness/global-setup.ts'],
          setupFiles: ['test/harness/quiet-temporal.ts'],
        },
      },
    ],
  },
});
