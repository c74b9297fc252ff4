// Every side effect of the billing workflows. Workflows import the type only.
export { activityFailureInterceptors, toActivityFailure } from './activity-failures.ts';
export {
  createBillingActivities,
  deliverNotification,
  invoiceIdFor,
  snapshotIdFor,
  type BillingActivities,
  type BillingDependencies,
  type SnapshotOutcome,
} from './billing-activities.ts';
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
export {
  createShadowRunActivities,
  type ShadowRunActivities,
  type ShadowRunDependencies,
  type ShadowRunPlan,
} from './shadow-run-activities.ts';
