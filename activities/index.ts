// Every side effect of the billing workflows. Workflows import the type only.
export { ACTIVITY_CONTRACT_BROKEN, checkActivityContracts, tallyActivityInterceptors } from './activity-contracts.ts';
export {
  createBillingActivities,
  deliverNotification,
  type BillingActivities,
  type SnapshotOutcome,
} from './billing-activities.ts';
export { createBackfillActivities, type BackfillActivities } from './backfill-activities.ts';
export { openPendingPeriods, type ContractSweepState } from './open-pending-periods.ts';
export { checkChangedUsageAlerts, checkUsageAlerts, type UsageAlertDependencies } from './check-usage-alerts.ts';
export { createShadowRunActivities, type ShadowRunActivities } from './shadow-run-activities.ts';
export {
  createMarketplaceActivities,
  type MarketplaceActivities,
  type MarketplaceSettings,
} from './marketplace-activities.ts';
export { publishedMarketplaceCustomers } from './marketplace-customers.ts';
export { ensureMarketplaceSchedule } from './marketplace-schedule.ts';
export { marketplaceExport, marketplaceStatus, type ExportRow } from './marketplace-report.ts';
// Daily revenue recognition's steps live in their room (revenue/); the workflows see them here, by type.
export { createRevenueActivities, type RevenueActivities } from '../revenue/index.ts';
export { createAnomalyActivities, type AnomalyActivities } from './anomaly-activities.ts';
export { ensureAnomalySchedule } from './anomaly-schedule.ts';
