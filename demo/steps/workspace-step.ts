import { parseUsageStreamEnv } from '../../config/ingest-worker.ts';
import { indent, out, type DemoRun } from '../demo-run.ts';
import { DEMO_MIXED_CREDITS_CUSTOMER, DEMO_REVIEWED_CUSTOMER, prepareDemoWorkspace } from '../workspace.ts';
import type { DemoStep } from './demo-step.ts';

/** 1. The run's customers and contracts, the stack's source keys, the migrated database. */
export const workspaceStep: DemoStep = {
  title: () => 'Workspace',
  async run(run: DemoRun) {
    const { env, endpoints } = run.services;
    run.workspace = await prepareDemoWorkspace({
      stackDir: env.TALLY_STACK_DIR,
      databaseUrl: endpoints.databaseUrl,
      subjectPrefix: parseUsageStreamEnv().subjectPrefix,
      customerCount: run.options.customers,
      now: run.now,
    });
    const { workspace } = run;
    const idOf = (sampleId: string): string => `${sampleId}-${workspace.runId}`;
    const currencies = new Map<string, number>();
    for (const customer of workspace.customers)
      currencies.set(customer.contract.currency, (currencies.get(customer.contract.currency) ?? 0) + 1);
    out(
      indent(
        [
          `run ${workspace.runId}: ${workspace.customers.length} customers (${[...currencies].map(([currency, n]) => `${n} ${currency}`).join(', ')}), contracts in ${workspace.contractsDir}`,
          `database ${new URL(endpoints.databaseUrl).pathname.slice(1)} (migrated); provider: the Postgres ledger sink; source keys in ${workspace.sourceKeysFile}`,
          `${idOf(DEMO_REVIEWED_CUSTOMER)} has any invoice above EUR 100 reviewed; ${idOf(DEMO_MIXED_CREDITS_CUSTOMER)} holds a promotional and a prepaid credit`,
        ].join('\n'),
      ),
    );
  },
};
