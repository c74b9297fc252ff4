// Every side effect of the billing workflows. Workflows import the type only.
export { activityFailureInterceptors, toActivityFailure } from './activity-failures.ts';
export { ACTIVITY_CONTRACT_BROKEN, checkActivityContracts, tallyActivityInterceptors } from './activity-contracts.ts';
export {
  createBillingActivities,
  deliverNotification,
  invoiceIdFor,
  snapshotIdFor,
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
export {
  createShadowRunActivities,
  type ShadowRunActivities,
  type ShadowRunDependencies,
  type ShadowRunPlan,
} from './shadow-run-activities.ts';
export {
  createMarketplaceActivities,
  type MarketplaceActivities,
  type MarketplaceDependencies,
  type MarketplaceSettings,
  type SealSummary,
} from './marketplace-activities.ts';
export { publishedMarketplaceCustomers } from './marketplace-customers.ts';
export { marketplaceIdentity, MarketplaceSetupError, type CustomerSealResult } from './marketplace-sealing.ts';
export { ensureMarketplaceSchedule } from './marketplace-schedule.ts';
export {
  marketplaceExport,
  marketplaceStatus,
  recordStatus,
  type ExportRow,
  type HourStatusRow,
  type ParityRow,
  type RecordStatus,
} from './marketplace-report.ts';
// Daily revenue recognition's steps live in their room (revenue/); the workflows see them here, by type.
export { createRevenueActivities, type RevenueActivities } from '../revenue/index.ts';
export {
  createAnomalyActivities,
  type AnomalyActivities,
  type AnomalyDependencies,
  type DayScanResult,
  type DeliveryResult,
} from './anomaly-activities.ts';
export { ensureAnomalySchedule } from './anomaly-schedule.ts';
