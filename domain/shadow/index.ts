/**
 * Shadow billing's pure core (SPEC §6): the legacy CSV's rules, line keys, the comparison of one
 * customer-period, the report and the readiness verdict. The offline `tally shadow compare` and the
 * shadow-run workflow's activities call the same code; the cutover rules (authority in force, a
 * cohort's readiness) too.
 */
export { LEGACY_CSV_HEADER, type LegacyLine } from './legacy-line.ts';
export { LegacyFileError, parseLegacyCsv, type LegacyFileProblem } from './legacy-csv.ts';
export {
  COMMIT_TRUE_UP_KEY,
  creditLineKey,
  keyedInvoiceLines,
  legacyLinesFromInvoice,
  type KeyedLine,
} from './line-keys.ts';
export {
  compareCustomerPeriod,
  type CustomerComparison,
  type CustomerPeriodComparisonInput,
  type CustomerStatus,
  type DiffCause,
  type LineComparison,
  type LineStatus,
  type ShadowThresholds,
} from './compare.ts';
export {
  BOUNDARY_WINDOW_MINUTES,
  TIME_ZONE_OFFSETS_MINUTES,
  periodBoundaryZone,
  quantityInZone,
  tierBoundaryExplanation,
  utcOffsetName,
  type BoundaryUsage,
  type TierCharge,
} from './boundary-causes.ts';
export { boundaryUsageFromEvents, type EdgeEvent } from './boundary-usage.ts';
export { shadowReport, summarizeComparisons, type ShadowReport, type ShadowSummary } from './shadow-report.ts';
export {
  consecutivePeriods,
  cutoverReadiness,
  type PeriodReadiness,
  type ReadinessVerdict,
  type RunFacts,
} from './readiness.ts';
export { authorityInForce, cohortReadiness, type AuthoritySource, type CustomerReadiness } from './cutover.ts';
