// Revenue recognition beyond the invoice (SPEC §11), pure: the daily recognized position of a
// customer-period and its entry, the settlement at invoice. Decisions: docs/decisions/journal.md.
export {
  recognitionSettlementEntry,
  recognizeDay,
  REVENUE_RECOGNITION_VERSION,
  type DailyRecognition,
  type DailyRecognitionInput,
  type RecognitionCredit,
} from './daily-recognition.ts';
export {
  monthEndAccrual,
  RECOGNITION_ENTRY_TYPES,
  REVENUE_ACCRUAL_VERSION,
  type MonthEndAccrual,
  type MonthEndAccrualInput,
} from './month-end-accrual.ts';
export { dayBefore, recognitionDay, type RecognitionDay } from './recognition-day.ts';
export { RevenueError, type RevenueErrorCode } from './revenue-error.ts';
export { openPostingPeriod, redirectFromLockedPeriods } from './period-locks.ts';
export {
  assertAccountsMapped,
  chartNumberMapping,
  GL_EXPORT_COLUMNS,
  glExportCsv,
  glExportRows,
  parseAccountMapping,
  type AccountMapping,
  type GlExportRow,
  type LedgerPosting,
} from './gl-export.ts';
export {
  revenueSchedule,
  type RecognitionSettlement,
  type RecognizedDay,
  type RevenueScheduleRow,
} from './revenue-schedule.ts';
export {
  reconcilePeriod,
  type Reconciliation,
  type ReconciliationDifference,
  type ReconciliationInput,
  type ReconciliationInvoice,
  type ReconciliationRow,
  type ReconciliationStage,
} from './reconciliation.ts';
export { disaggregateRevenue, type DisaggregationRow, type RevenueCategory } from './disaggregation.ts';
