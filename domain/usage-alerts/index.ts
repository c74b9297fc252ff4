/**
 * Usage alerts, the pure side: month-to-date usage valued from ingest's running totals, the prepaid
 * balance a period starts with, and which of the 50/75/90/100 % thresholds are newly reached.
 * Storage and delivery live in db/queries/usage-alerts.ts and activities/check-usage-alerts.ts.
 */
export {
  newThresholdCrossings,
  usedPercent,
  type NotifiedThreshold,
  type UsageAlertBasis,
  type UsageAlertReferences,
  type UsageAlertThresholdPct,
} from './threshold-crossings.ts';
export { valueRunningTotals, type RunningTotal, type RunningTotalValuation } from './running-total-valuation.ts';
export { prepaidBalanceAtPeriodStart } from './prepaid-balance.ts';
