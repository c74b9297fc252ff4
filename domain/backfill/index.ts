// Recalculating closed periods (SPEC §5): the pure part of backfill plans and runs.
export {
  backfillAdjustmentLine,
  backfillDifferences,
  billedSoFar,
  toLineAmounts,
  totalOf,
  usageDrivenAmounts,
  type LineAmounts,
} from './adjustment.ts';
export { backfillCauses, describeCause, type BackfillCause } from './causes.ts';
