// Recalculating closed periods (SPEC §5): the pure part of backfill plans and runs.
export {
  backfillAdjustmentLine,
  backfillDifferences,
  backfillLineKey,
  billedSoFar,
  originalLineKey,
  toLineAmounts,
  totalOf,
  usageDrivenAmounts,
  USAGE_DRIVEN_KINDS,
  type BackfillDifference,
  type LineAmounts,
} from './adjustment.ts';
export { backfillCauses, describeCause, type BackfillCause, type CorrectionRef, type RatingInputs } from './causes.ts';
