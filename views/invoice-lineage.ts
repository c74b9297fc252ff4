import type pg from 'pg';
import type { RateCardVersion } from '../contracts/ratecard.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { eventsOfAggregate, lateEventsAdjustedBy, type LineageEvent } from '../db/queries/invoice-lineage.ts';
import type { InvoiceRecord } from '../db/queries/invoices.ts';
import { correctionsOfCustomerPeriod, type PeriodCorrection } from '../db/queries/event-corrections.ts';
import { loadSnapshot, summarizeEventSet } from '../db/queries/period-snapshots.ts';
import { billingPeriod } from '../domain/period.ts';
import { aggregatesByPrice, usageAggregationPlan } from '../domain/rating/index.ts';

class LineageError extends TallyError {
  constructor(message: string) {
    super('lineage_unavailable', message, { permanent: true });
  }
}

interface LineageGroup {
  readonly versionEffectiveFrom: string | null;
  readonly sku: string;
  readonly unit: string;
  readonly metadata: Record<string, string>;
  readonly eventCount: number;
  readonly quantitySum: string;
  readonly events: LineageEvent[];
}

export interface InvoiceLineage {
  readonly invoiceId: string;
  readonly fingerprint: {
    readonly recorded: string | undefined;
    readonly recomputed: string;
    readonly eventCount: number;
    readonly matches: boolean;
  };
  readonly ratecardsMatch: boolean;
  readonly lines: readonly {
    lineKey: string;
    kind: string;
    amount: string;
    groups?: LineageGroup[];
    lateEvents?: LineageEvent[];
    /**
     * Corrections of the events of this line's sku in this period (SPEC §5): `reflected` when recorded
     * before the period's snapshot (the close rated the corrected event), else they wait for the next
     * backfill over the period.
     */
    corrections?: (PeriodCorrection & { reflected: boolean })[];
    /** For a backfill's adjustment line: which backfill wrote it. */
    backfillId?: string;
  }[];
}

/** A line → its aggregates → its events, from the invoice's snapshot and the immutable event history. */
/** A rate card's versions by name (the published change log, or Finance's files). */
export type RateCardVersionLoader = (ratecard: string) => Promise<readonly RateCardVersion[]>;

/** The backfill that wrote an adjustment line (`adjustment:<period>:<line>:backfill:<id>`), if one did. */
function backfillOf(lineKey: string): string | undefined {
  return /:backfill:([^:]+)$/.exec(lineKey)?.[1];
}

export async function invoiceLineage(
  pool: pg.Pool,
  record: InvoiceRecord,
  eventsPerGroup: number,
  loadVersions: RateCardVersionLoader,
): Promise<InvoiceLineage> {
  const snapshot = await loadSnapshot(pool, record.snapshotId);
  if (snapshot === undefined) throw new LineageError(`snapshot ${record.snapshotId} of ${record.invoiceId} is missing`);
  // The versions of the rate cards the invoice cites (by name): its groups are matched against them.
  const cards = [...new Set(record.document.ratecard_versions.map((version) => version.ratecard))];
  const terms = { versions: (await Promise.all(cards.map((card) => loadVersions(card)))).flat() };
  const cited = new Set(record.document.ratecard_versions.map((version) => version.content_hash));
  const ratecardsMatch = terms.versions.filter((version) => cited.has(version.content_hash)).length === cited.size;
  const period = billingPeriod(record.period);
  const plan = usageAggregationPlan(terms.versions, period);
  const byPrice = aggregatesByPrice(snapshot.aggregates, terms.versions);
  const eventSet = { customerId: record.customerId, periodStart: period.start, periodEnd: period.end };
  const corrections = (await correctionsOfCustomerPeriod(pool, eventSet)).map((correction) => ({
    ...correction,
    reflected: Date.parse(correction.amendedAt) <= Date.parse(snapshot.createdAt ?? correction.amendedAt),
  }));
  // A customer with corrections reflected at its close was snapshotted through the corrected event set.
  const recorded = record.status === 'issued' ? record.document.event_fingerprint : snapshot.eventFingerprint;
  let summary = await summarizeEventSet(pool, eventSet);
  if (summary.fingerprint !== recorded && corrections.some((correction) => correction.reflected)) {
    const corrected = await summarizeEventSet(pool, { ...eventSet, table: 'corrected_usage_events' });
    if (corrected.fingerprint === recorded) summary = corrected;
  }
  const lines = [];
  for (const line of record.document.lines) {
    if (line.kind === 'usage') {
      const groups: LineageGroup[] = [];
      for (const aggregate of byPrice.get(line.price_id) ?? []) {
        const segment = plan.segments.find((candidate) => candidate.effectiveFrom === aggregate.versionEffectiveFrom);
        if (segment === undefined) continue;
        const { events } = await eventsOfAggregate(pool, {
          customerId: record.customerId,
          segmentStart: segment.start,
          segmentEnd: segment.end,
          aggregate,
          groupingKeys: plan.keysBySku.find((entry) => entry.sku === aggregate.sku)?.keys ?? [],
          limit: eventsPerGroup,
        });
        groups.push({ ...aggregate, metadata: { ...aggregate.metadata }, events });
      }
      const ofSku = corrections.filter((correction) => correction.skus.includes(line.sku));
      lines.push({
        lineKey: line.line_key,
        kind: line.kind,
        amount: line.amount,
        groups,
        ...(ofSku.length === 0 ? {} : { corrections: ofSku }),
      });
    } else if (line.kind === 'adjustment' && line.line_key.startsWith('adjustment:')) {
      lines.push({
        lineKey: line.line_key,
        kind: line.kind,
        amount: line.amount,
        lateEvents: await lateEventsAdjustedBy(pool, record.invoiceId, line.corrects_invoice_id, eventsPerGroup),
        ...(backfillOf(line.line_key) === undefined ? {} : { backfillId: backfillOf(line.line_key) }),
      });
    } else {
      lines.push({ lineKey: line.line_key, kind: line.kind, amount: line.amount });
    }
  }
  return {
    invoiceId: record.invoiceId,
    fingerprint: {
      recorded,
      recomputed: summary.fingerprint,
      eventCount: summary.eventCount,
      matches: recorded === summary.fingerprint,
    },
    ratecardsMatch,
    lines,
  };
}
