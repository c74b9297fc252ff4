// Every side effect of the billing workflows. Workflows import the type only.
export { activityFailureInterceptors, toActivityFailure } from './activity-failures.ts';
export {
  createBillingActivities,
  deliverNotification,
  invoiceIdFor,
  type BillingActivities,
  type BillingDependencies,
} from './billing-activities.ts';
export { fileTermsLoader, type CustomerTerms } from './customer-terms.ts';
export { openPendingPeriods } from './open-pending-periods.ts';
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
