// Every side effect of the billing workflows. Workflows import the type only.
export { activityFailureInterceptors, toActivityFailure } from './activity-failures.ts';
export {
  createBillingActivities,
  deliverNotification,
  invoiceIdFor,
  type BillingActivities,
  type BillingDependencies,
  type SnapshotOutcome,
} from './billing-activities.ts';
export {
  BackfillRefusedError,
  createBackfillActivities,
  type BackfillActivities,
  type BackfillDependencies,
  type PlanRequest,
} from './backfill-activities.ts';
export { openPendingPeriods, type ContractSweepState } from './open-pending-periods.ts';
export { startPeriodWorkflow } from './period-workflows.ts';
export {
  checkChangedUsageAlerts,
  checkUsageAlerts,
  usageAlertNotificationKey,
  TOTALS_COMMIT_SLACK_MS,
  type RecordedUsageAlert,
  type UsageAlertCheckResult,
  type UsageAlertDependencies,
  type UsageAlertScan,
} from './check-usage-alerts.ts';
