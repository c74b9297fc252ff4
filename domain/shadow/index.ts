/**
 * Shadow billing's pure core (SPEC §6): the legacy CSV's rules, line keys, the comparison of one
 * customer-period, the report and the readiness verdict. The offline `tally shadow compare` and the
 * shadow-run workflow's activities call the same code; the cutover rules (authority in force, a
 * cohort's readiness) too.
 */
export { LEGACY_CSV_HEADER, type LegacyLine } from './legacy-line.ts';
export { parseLegacyCsv } from './legacy-csv.ts';
export { legacyLinesFromInvoice } from './line-keys.ts';
export { compareCustomerPeriod, type CustomerComparison } from './compare.ts';
export { BOUNDARY_WINDOW_MINUTES, type BoundaryUsage } from './boundary-causes.ts';
export { boundaryUsageFromEvents, type EdgeEvent } from './boundary-usage.ts';
export { shadowReport, summarizeComparisons, type ShadowReport } from './shadow-report.ts';
export { consecutivePeriods, cutoverReadiness, type ReadinessVerdict, type RunFacts } from './readiness.ts';
export { authorityInForce, cohortReadiness, type AuthoritySource, type CustomerReadiness } from './cutover.ts';
