import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { InvoiceLine } from '../../contracts/invoice.ts';
import { creditLine, discountLine, feeLine, trueUpLine, usageLine } from '../../test/builders/issued-invoice.ts';
import { Decimal, formatDecimal, formatMoney, minorUnits } from '../money.ts';
import { compareCustomerPeriod } from './compare.ts';
import type { LegacyLine } from './legacy-line.ts';
import { legacyLinesFromInvoice } from './line-keys.ts';

const currency = fc.constantFrom('USD', 'JPY', 'KWD');
/** An amount drawn in minor units, so it is always a whole number of them. */
const money = (code: string, min = -5_000_000, max = 5_000_000) =>
  fc
    .integer({ min, max })
    .map((minor) => formatMoney(new Decimal(minor).dividedBy(new Decimal(10).pow(minorUnits(code))), code));
const quantity = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 0, max: 6 }))
  .map(([units, scale]) => formatDecimal(new Decimal(units.toString()).dividedBy(new Decimal(10).pow(scale))));

const invoiceCase = currency.chain((code) =>
  fc.record({
    currency: fc.constant(code),
    lines: fc.array(
      fc.oneof(
        fc
          .tuple(fc.constantFrom('tokens', 'images', 'seconds'), fc.constantFrom('a', 'b'), money(code, 0), quantity)
          .map(([price, version, amount, units]): InvoiceLine =>
            usageLine(`${price}@${version}`, amount, { price_id: price, quantity: units }),
          ),
        fc
          .tuple(fc.constantFrom('platform', 'support'), money(code, 0))
          .map(([price, amount]) => feeLine(price, amount)),
        money(code, -1_000_000, 0).map((amount) => discountLine('launch-10', amount)),
        money(code, 0).map((amount) => trueUpLine(amount)),
        fc
          .tuple(fc.constantFrom('promo', 'prepaid-1'), money(code, -1_000_000, 0))
          .map(([id, amount]) => creditLine(id, 'prepaid', amount)),
      ),
      { maxLength: 12 },
    ),
  }),
);

describe('shadow comparison properties', () => {
  it('an invoice compared with itself is all match, with zero variance and no exception', () => {
    fc.assert(
      fc.property(invoiceCase, ({ currency: code, lines }) => {
        const invoice = { customer_id: 'acme', period: '2026-10', currency: code, lines };
        const result = compareCustomerPeriod({
          customerId: 'acme',
          legacy: legacyLinesFromInvoice(invoice),
          invoice,
          thresholds: {},
        });
        // An invoice without lines has no legacy lines either: only_new, the one exception to "all match".
        if (lines.length === 0) return;
        expect(result.status).toBe('match');
        expect(result.lines.every((line) => line.status === 'match')).toBe(true);
        expect(new Decimal(result.variance ?? 'NaN').isZero()).toBe(true);
        expect(result.exception).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('quantity_effect + price_effect = delta on every usage line that differs', () => {
    const side = (code: string) =>
      fc.option(fc.record({ amount: money(code), units: fc.option(quantity, { nil: undefined }) }), { nil: undefined });
    fc.assert(
      fc.property(
        currency.chain((code) => fc.tuple(fc.constant(code), side(code), side(code))),
        ([code, legacySide, newSide]) => {
          const legacy: LegacyLine[] =
            legacySide === undefined
              ? []
              : [
                  {
                    customer_id: 'acme',
                    period: '2026-10',
                    price_id: 'tokens',
                    quantity: legacySide.units,
                    amount: legacySide.amount,
                    currency: code,
                  },
                ];
          const lines =
            newSide === undefined ? [] : [usageLine('tokens', newSide.amount, { quantity: newSide.units ?? '0' })];
          if (legacy.length === 0 && lines.length === 0) return;
          const result = compareCustomerPeriod({
            customerId: 'acme',
            legacy,
            invoice: lines.length === 0 && legacy.length > 0 ? undefined : { currency: code, lines },
            thresholds: {},
          });
          for (const line of result.lines) {
            if (line.status === 'match') continue;
            expect(line.delta).toBeDefined();
            if (line.quantity_effect === undefined) continue;
            const sum = new Decimal(line.quantity_effect).plus(line.price_effect ?? 'NaN');
            expect(sum.eq(new Decimal(line.delta ?? 'NaN'))).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
