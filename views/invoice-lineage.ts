import type pg from 'pg';
import type { IssuedInvoice } from '../contracts/invoice.ts';
import type { RateCardVersion } from '../contracts/ratecard.ts';
import { TallyError } from '../contracts/tally-error.ts';
import { eventsOfAggregate, lateEventsAdjustedBy, type LineageEvent } from '../db/queries/invoice-lineage.ts';
import type { InvoiceRecord } from '../db/queries/invoices.ts';
import { loadSnapshot, summarizeEventSet } from '../db/queries/period-snapshots.ts';
import { billingPeriod } from '../domain/period.ts';
import { aggregatesByPrice, usageAggregationPlan } from '../domain/rating/index.ts';

export class LineageError extends TallyError {
  constructor(message: string) {
    super('lineage_unavailable', message, { permanent: true });
  }
}

export interface LineageGroup {
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
  }[];
}

/** A line → its aggregates → its events, from the invoice's snapshot and the immutable event history. */
/** A rate card's versions by name (the published change log, or Finance's files). */
export type RateCardVersionLoader = (ratecard: string) => Promise<readonly RateCardVersion[]>;

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
  const summary = await summarizeEventSet(pool, {
    customerId: record.customerId,
    periodStart: period.start,
    periodEnd: period.end,
  });
  const document = record.document as Partial<IssuedInvoice>;
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
      lines.push({ lineKey: line.line_key, kind: line.kind, amount: line.amount, groups });
    } else if (line.kind === 'adjustment' && line.line_key.startsWith('adjustment:')) {
      lines.push({
        lineKey: line.line_key,
        kind: line.kind,
        amount: line.amount,
        lateEvents: await lateEventsAdjustedBy(pool, record.invoiceId, line.corrects_invoice_id, eventsPerGroup),
      });
    } else {
      lines.push({ lineKey: line.line_key, kind: line.kind, amount: line.amount });
    }
  }
  return {
    invoiceId: record.invoiceId,
    fingerprint: {
      recorded: document.event_fingerprint ?? snapshot.eventFingerprint,
      recomputed: summary.fingerprint,
      eventCount: summary.eventCount,
      matches: (document.event_fingerprint ?? snapshot.eventFingerprint) === summary.fingerprint,
    },
    ratecardsMatch,
    lines,
  };
}
