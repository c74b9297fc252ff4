import type { DemoRun } from '../demo-run.ts';

/**
 * One numbered step of `tally demo`: a title, and what it does and prints. A step reads what earlier
 * steps set up or found from the run, and fails with a DemoError when something does not add up.
 * Adding a step: one file here, one line in `../run-demo.ts`.
 */
export interface DemoStep {
  readonly title: (run: DemoRun) => string;
  readonly run: (run: DemoRun) => Promise<void>;
}
