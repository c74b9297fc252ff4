/**
 * Marketplace metering (SPEC §12), the pure part: hourly buckets per customer, listing dimension
 * and UTC hour; late usage as deltas; remainders carried; each marketplace's record shape, window
 * and rules. No I/O and no clock: the activities read usage and the time and store what this returns.
 */
export { hourlyDimensionUsage, listingDimensions, type HourlyAggregate } from './listing-dimensions.ts';
export { listingValue } from './listing-value.ts';
export { MAX_RECORDS_PER_CALL, marketplaceRules } from './marketplace-rules.ts';
export { groupIntoCalls, isSent, marketplaceRecord, type MarketplaceRecord } from './marketplace-records.ts';
export { DOCUMENTED_REPORT_WINDOWS, halfWindowAt, reportDeadline, type ReportWindows } from './report-windows.ts';
export { sealHours, type DimensionLedger } from './seal-hours.ts';
export { type DeltaSource, type MarketplaceIdentity, type OverReport, type SealedBucket } from './sealed-bucket.ts';
export { addHours, hourOf, hoursFrom, laterOf, periodOfHour } from './utc-hours.ts';
export { periodParity, type ParityLine } from './parity.ts';
