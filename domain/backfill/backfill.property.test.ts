import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AdjustmentLine, Invoice } from '../../contracts/invoice.ts';
import type { RateCardVersion } from '../../contracts/ratecard.ts';
import { buildContract, buildPrice, buildRateCardVersion, tiers } from '../../test/builders/rating.ts';
import { Decimal, formatMoney, sumDecimals } from '../money.ts';
import { billingPeriod } from '../period.ts';
import { aggregateEvents, ratePeriod, type RatableEvent } from '../rating/index.ts';
import {
  backfillAdjustmentLine,
  backfillDifferences,
  billedSoFar,
  toLineAmounts,
  usageDrivenAmounts,
} from './index.ts';

const OCTOBER = billingPeriod('2026-10');
const START_MS = Date.parse(OCTOBER.start);
const SPAN_MS = Date.parse(OCTOBER.end) - START_MS;

/** Graduated and volume prices with a mid-month version: amounts that are not linear in the events. */
const VERSIONS: RateCardVersion[] = ['2026-10-01T00:00:00.000Z', '2026-10-16T00:00:00.000Z'].map((from, index) =>
  buildRateCardVersion({
    effective_from: from,
    prices: [
      buildPrice({
        id: 'tokens-us',
        dimensions: { region: 'us-east-1' },
        model: 'graduated',
        tiers: tiers(['100', index === 0 ? '0.10' : '0.08', '1'], ['1000', '0.05'], [null, '0.013']),
      }),
      buildPrice({
        id: 'tokens',
        model: 'volume',
        tiers: tiers(['5000', '0.003'], [null, index === 0 ? '0.0017' : '0.0009', '7']),
      }),
    ],
  }),
);
const CONTRACT = buildContract({ ratecard: VERSIONS[0]?.ratecard });

function rate(events: readonly RatableEvent[]): Invoice {
  const { aggregates, counters } = aggregateEvents(events, VERSIONS, OCTOBER);
  return ratePeriod({
    customerId: CONTRACT.customer_id,
    period: OCTOBER,
    contract: CONTRACT,
    versions: VERSIONS,
    aggregates,
    counters,
    credits: [],
    calculationVersion: 'test',
  });
}

const usageTotal = (invoice: Invoice) => sumDecimals([...usageDrivenAmounts(invoice.lines).values()]);

const eventArbitrary = fc.record({
  offsetMs: fc.integer({ min: 0, max: SPAN_MS - 1 }),
  quantity: fc.integer({ min: 0, max: 20_000 }).map(String),
  us: fc.boolean(),
});

const correctionArbitrary = fc.record({
  target: fc.nat(),
  action: fc.constantFrom('void' as const, 'replace' as const),
  quantity: fc.integer({ min: 0, max: 20_000 }).map(String),
});

describe('backfill adjustments (fast-check)', () => {
  it('issued + every adjustment = the re-rated total of the corrected event set, to the cent, however corrections are split across backfills', () => {
    fc.assert(
      fc.property(
        fc.array(eventArbitrary, { minLength: 1, maxLength: 40 }),
        fc.array(correctionArbitrary, { maxLength: 12 }),
        fc.array(fc.nat({ max: 12 }), { maxLength: 4 }),
        (specs, corrections, cuts) => {
          const events: RatableEvent[] = specs.map((spec, index) => ({
            source: 'api-gateway',
            event_id: `e${index}`,
            timestamp: new Date(START_MS + spec.offsetMs).toISOString(),
            unit: 'tokens',
            quantity: spec.quantity,
            metadata: (spec.us ? { sku: 'llm.tokens', region: 'us-east-1' } : { sku: 'llm.tokens' }) as Record<
              string,
              string
            >,
          }));
          const issued = rate(events);
          // The corrections arrive in order, cut into batches; a backfill runs after each batch.
          const boundaries = [
            ...new Set([0, ...cuts.map((cut) => Math.min(cut, corrections.length)), corrections.length]),
          ].sort((a, b) => a - b);
          const current = new Map(events.map((event) => [event.event_id, event as RatableEvent | undefined]));
          const adjustments: AdjustmentLine[] = [];
          for (let batch = 1; batch < boundaries.length; batch += 1) {
            for (const correction of corrections.slice(boundaries[batch - 1], boundaries[batch])) {
              const id = `e${correction.target % events.length}`;
              const event = current.get(id);
              if (event === undefined) continue; // a voided event: the correction is rejected
              current.set(id, correction.action === 'void' ? undefined : { ...event, quantity: correction.quantity });
            }
            const rerated = rate([...current.values()].filter((event) => event !== undefined));
            const billed = billedSoFar({ correctedPeriod: '2026-10', correctedLines: issued.lines, adjustments });
            for (const difference of backfillDifferences(
              billed,
              toLineAmounts(usageDrivenAmounts(rerated.lines)),
              'USD',
            ))
              adjustments.push(
                backfillAdjustmentLine({
                  backfillId: `bf${batch}`,
                  correctedPeriod: '2026-10',
                  correctedInvoiceId: 'inv:acme:2026-10',
                  difference,
                  reason: 'property',
                }),
              );
          }
          const final = rate([...current.values()].filter((event) => event !== undefined));
          const billedTotal = usageTotal(issued).plus(sumDecimals(adjustments.map((line) => new Decimal(line.amount))));
          expect(formatMoney(billedTotal, 'USD')).toBe(formatMoney(usageTotal(final), 'USD'));
          // A backfill with nothing new writes nothing.
          const billed = billedSoFar({ correctedPeriod: '2026-10', correctedLines: issued.lines, adjustments });
          expect(backfillDifferences(billed, toLineAmounts(usageDrivenAmounts(final.lines)), 'USD')).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
