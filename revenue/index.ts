// Revenue recognition beyond the invoice (SPEC §11): daily recognition's steps and schedule, period
// locks, the GL export. Workflows import the types only.
export { createRevenueActivities, type RevenueActivities } from './revenue-activities.ts';
export { recognitionCustomers, recognizeCustomerDay, type DayRecognitionOutcome } from './recognize-day.ts';
export { accrueDuePeriods, type AccrualOutcome } from './month-end-accrual.ts';
export { ensureRevenueSchedule } from './revenue-schedule.ts';
export { lockPeriod } from './period-locks.ts';
export { revenueScheduleOfPeriod } from './revenue-schedule-report.ts';
export { reconcileAndRecord } from './reconcile.ts';
