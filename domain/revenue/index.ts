// Revenue recognition beyond the invoice (SPEC §11), pure: the daily recognized position of a
// customer-period and its entry, the settlement at invoice. Decisions: docs/decisions/journal.md.
export { recognitionSettlementEntry, recognizeDay, type RecognitionCredit } from './daily-recognition.ts';
export { monthEndAccrual, RECOGNITION_ENTRY_TYPES } from './month-end-accrual.ts';
export { dayBefore, recognitionDay, type RecognitionDay } from './recognition-day.ts';
export { openPostingPeriod, redirectFromLockedPeriods } from './period-locks.ts';
export {
  assertAccountsMapped,
  chartNumberMapping,
  glExportCsv,
  glExportRows,
  parseAccountMapping,
  type AccountMapping,
  type LedgerPosting,
} from './gl-export.ts';
export { revenueSchedule, type RevenueScheduleRow } from './revenue-schedule.ts';
export {
  reconcilePeriod,
  type Reconciliation,
  type ReconciliationDifference,
  type ReconciliationInvoice,
} from './reconciliation.ts';
export { disaggregateRevenue } from './disaggregation.ts';
