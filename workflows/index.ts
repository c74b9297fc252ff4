// The workflow bundle's entry point: every workflow type the billing worker runs.
export { customerPeriodWorkflow, type CustomerPeriodResult } from './customer-period.ts';
export { shadowRunWorkflow, type ShadowRunResult } from './shadow-run.ts';
export { marketplaceExceptionWorkflow, marketplaceLauncherWorkflow, marketplaceSendWorkflow } from './marketplace.ts';
export { backfillItemWorkflow, backfillWorkflow } from './backfill.ts';
export { revenueDayWorkflow, revenueLauncherWorkflow } from './revenue.ts';
export { anomalyDayWorkflow, anomalyLauncherWorkflow } from './anomalies.ts';
