import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { usageLine } from '../../test/builders/issued-invoice.ts';
import { Decimal, formatDecimal, formatMoney, sumDecimals } from '../money.ts';
import {
  BOUNDARY_WINDOW_MINUTES,
  TIME_ZONE_OFFSETS_MINUTES,
  periodBoundaryZone,
  quantityInZone,
  type BoundaryUsage,
} from './boundary-causes.ts';
import { compareCustomerPeriod } from './compare.ts';

/** October 2026 in minutes. */
const MONTH_MINUTES = 31 * 24 * 60;

/** Events at absolute minutes from the month's UTC start: some before, inside and after it, near its edges. */
const edgeEvents = fc.array(
  fc.record({
    minutes: fc.oneof(
      fc.integer({ min: -BOUNDARY_WINDOW_MINUTES, max: BOUNDARY_WINDOW_MINUTES - 1 }),
      fc.integer({ min: MONTH_MINUTES - BOUNDARY_WINDOW_MINUTES, max: MONTH_MINUTES + BOUNDARY_WINDOW_MINUTES - 1 }),
    ),
    quantity: fc.integer({ min: 1, max: 1_000 }).map((units) => new Decimal(units)),
  }),
  { maxLength: 20 },
);

function boundaryUsageOf(events: readonly { minutes: number; quantity: Decimal }[]): BoundaryUsage {
  return {
    key: 'tokens',
    nearStart: events.filter((event) => event.minutes < MONTH_MINUTES / 2),
    nearEnd: events
      .filter((event) => event.minutes >= MONTH_MINUTES / 2)
      .map((event) => ({ ...event, minutes: event.minutes - MONTH_MINUTES })),
  };
}

/** The month of a zone `minutesEast` of UTC, counted directly from the events: [−east, month − east). */
function bruteForceQuantity(
  interior: Decimal,
  events: readonly { minutes: number; quantity: Decimal }[],
  minutesEast: number,
) {
  const inside = events.filter((event) => event.minutes >= -minutesEast && event.minutes < MONTH_MINUTES - minutesEast);
  return interior.plus(sumDecimals(inside.map((event) => event.quantity)));
}

describe('boundary cause properties', () => {
  it('re-cutting the month at a zone’s midnight gives what counting the events in that zone’s month gives', () => {
    fc.assert(
      fc.property(
        edgeEvents,
        fc.integer({ min: 0, max: 100_000 }),
        fc.constantFrom(...TIME_ZONE_OFFSETS_MINUTES),
        (events, interiorUnits, zone) => {
          const interior = new Decimal(interiorUnits);
          const utc = bruteForceQuantity(interior, events, 0);
          expect(
            quantityInZone(utc, boundaryUsageOf(events), zone).eq(bruteForceQuantity(interior, events, zone)),
          ).toBe(true);
        },
      ),
    );
  });

  it('a legacy biller whose month runs in another zone is explained by a zone no farther from UTC that gives its quantity', () => {
    fc.assert(
      fc.property(
        edgeEvents,
        fc.integer({ min: 0, max: 100_000 }),
        fc.constantFrom(...TIME_ZONE_OFFSETS_MINUTES),
        (events, interiorUnits, zone) => {
          const interior = new Decimal(interiorUnits);
          const tallyQuantity = bruteForceQuantity(interior, events, 0);
          const legacyQuantity = bruteForceQuantity(interior, events, zone);
          fc.pre(!legacyQuantity.eq(tallyQuantity));
          const usage = boundaryUsageOf(events);
          const found = periodBoundaryZone([{ key: 'tokens', legacyQuantity, newQuantity: tallyQuantity }], [usage]);
          expect(found).toBeDefined();
          expect(Math.abs(found as number)).toBeLessThanOrEqual(Math.abs(zone));
          expect(quantityInZone(tallyQuantity, usage, found as number).eq(legacyQuantity)).toBe(true);
          // And the comparison says so on the line, at one unit price on both sides (a legacy quantity
          // of 0 proves no unit price: SPEC §6 puts the whole delta in the price effect then).
          if (legacyQuantity.isZero()) return;
          const unitPrice = new Decimal('0.25');
          const comparison = compareCustomerPeriod({
            customerId: 'acme',
            legacy: [
              {
                customer_id: 'acme',
                period: '2026-10',
                price_id: 'tokens',
                quantity: formatDecimal(legacyQuantity),
                amount: formatMoney(legacyQuantity.times(unitPrice), 'USD'),
                currency: 'USD',
              },
            ],
            invoice: {
              currency: 'USD',
              lines: [
                usageLine('tokens', formatMoney(tallyQuantity.times(unitPrice), 'USD'), {
                  quantity: formatDecimal(tallyQuantity),
                  billable_quantity: formatDecimal(tallyQuantity),
                }),
              ],
            },
            thresholds: {},
            boundaryUsage: [usage],
          });
          expect(comparison.lines[0]).toMatchObject({ status: 'diff', cause: 'period_boundary' });
        },
      ),
    );
  });

  it('a legacy biller that bills every unit at one of Tally’s tier prices is a tier_boundary difference', () => {
    const ladder = fc.uniqueArray(fc.integer({ min: 1, max: 500 }), { minLength: 2, maxLength: 4 }).chain((cents) =>
      fc.record({
        prices: fc.constant(cents.map((value) => new Decimal(value).dividedBy(100))),
        quantities: fc.array(fc.integer({ min: 1, max: 10_000 }), {
          minLength: cents.length,
          maxLength: cents.length,
        }),
        pick: fc.integer({ min: 0, max: cents.length - 1 }),
      }),
    );
    fc.assert(
      fc.property(ladder, ({ prices, quantities, pick }) => {
        const tiers = prices.map((price, index) => ({
          tier: index + 1,
          quantity: String(quantities[index]),
          unit_price: formatDecimal(price),
          amount: formatDecimal(price.times(quantities[index] as number)),
        }));
        const quantity = sumDecimals(quantities.map((units) => new Decimal(units)));
        const newAmount = sumDecimals(tiers.map((tier) => new Decimal(tier.amount)));
        const legacyAmount = quantity.times(prices[pick] as Decimal);
        fc.pre(newAmount.minus(legacyAmount).abs().greaterThan('0.01'));
        const comparison = compareCustomerPeriod({
          customerId: 'acme',
          legacy: [
            {
              customer_id: 'acme',
              period: '2026-10',
              price_id: 'tokens',
              quantity: formatDecimal(quantity),
              amount: formatMoney(legacyAmount, 'USD'),
              currency: 'USD',
            },
          ],
          invoice: {
            currency: 'USD',
            lines: [
              usageLine('tokens', formatMoney(newAmount, 'USD'), {
                quantity: formatDecimal(quantity),
                billable_quantity: formatDecimal(quantity),
                tiers,
              }),
            ],
          },
          thresholds: {},
        });
        expect(comparison.lines[0]).toMatchObject({ status: 'diff', cause: 'tier_boundary' });
        expect(comparison.lines[0]?.cause_detail).toMatch(/^every unit at tier \d's price|^the unit at/);
      }),
    );
  });
});
