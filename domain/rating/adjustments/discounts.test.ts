import { describe, expect, it } from 'vitest';
import { buildRateCardVersion } from '../../../test/builders/rating.ts';
import type { Discount } from '../../../contracts/ratecard.ts';
import { Decimal, formatMoney, roundMoneyHalfUp } from '../../money.ts';
import { billingPeriod } from '../../period.ts';
import { rateDiscounts, type DiscountableLine } from './discounts.ts';
import { timeRange } from '../time/time-range.ts';
import type { SegmentWithVersion } from '../segments/segments-in-force.ts';
import { versionSegments } from '../segments/version-segments.ts';

const OCTOBER = billingPeriod('2026-10');
const line = (priceId: string, bySegment: string[]): DiscountableLine => {
  const amounts = bySegment.map((amount) => new Decimal(amount));
  const unrounded = amounts.reduce((sum, amount) => sum.plus(amount), new Decimal(0));
  return {
    priceId,
    unrounded,
    rounded: roundMoneyHalfUp(unrounded, 'USD'),
    amountBySegment: new Map(amounts.map((amount, index) => [index, amount])),
  };
};
const discount = (percent: string, appliesTo: string[]): Discount => ({ id: 'launch', percent, applies_to: appliesTo });

function discounts(versions: { discounts: Discount[]; from?: string }[], lines: DiscountableLine[]): string[] {
  const built = versions.map(({ discounts: list, from }) =>
    buildRateCardVersion({ discounts: list, ...(from ? { effective_from: from } : {}) }),
  );
  const segments: SegmentWithVersion[] = versionSegments(built, OCTOBER).map((segment) => ({
    segment,
    version: built.find((version) => version.effective_from === segment.effectiveFrom) ?? null,
    range: timeRange(segment.start, segment.end),
  }));
  return rateDiscounts(segments, lines, 'USD').map((charge) => `${charge.id} ${formatMoney(charge.amount, 'USD')}`);
}

describe('discounts (rule 7)', () => {
  it("takes percent of the named lines' rounded sum, rounded half-up: 10% × (600.00 + 55.55) = 65.555 → -65.56", () => {
    expect(
      discounts(
        [{ discounts: [discount('10', ['tokens-us', 'tokens-eu'])] }],
        [line('tokens-us', ['600']), line('tokens-eu', ['55.554']), line('storage', ['99'])],
      ),
    ).toEqual(['launch -65.56']);
  });

  it('uses the rounded line amount, not the unrounded one: 50% × 0.01 (from 0.005) → -0.01 (not 0.0025 → 0.00)', () => {
    expect(discounts([{ discounts: [discount('50', ['a'])] }], [line('a', ['0.005'])])).toEqual(['launch -0.01']);
  });

  it('gives a zero line when the named prices had no usage', () => {
    expect(discounts([{ discounts: [discount('10', ['a'])] }], [])).toEqual(['launch 0.00']);
  });

  describe('when versions split the period (rule 11)', () => {
    const FROM = '2026-10-16T00:00:00.000Z';
    it('is rule 7 exactly when the discount is unchanged', () => {
      expect(
        discounts(
          [{ discounts: [discount('10', ['a'])] }, { discounts: [discount('10', ['a'])], from: FROM }],
          [line('a', ['100.003', '300.002'])],
        ),
      ).toEqual(['launch -40.00']); // 10% × 400.01 = 40.001 → 40.00
    });

    it('applies a discount only to the part priced under versions that carry it: 10% × 400.00 × 300/400 = 30.00', () => {
      expect(
        discounts([{ discounts: [] }, { discounts: [discount('10', ['a'])], from: FROM }], [line('a', ['100', '300'])]),
      ).toEqual(['launch -30.00']);
    });

    it("weights a changed percent by each version's part: 400.00 × (10% × 100 + 20% × 300) / 400 = 70.00", () => {
      expect(
        discounts(
          [{ discounts: [discount('10', ['a'])] }, { discounts: [discount('20', ['a'])], from: FROM }],
          [line('a', ['100', '300'])],
        ),
      ).toEqual(['launch -70.00']);
    });
  });
});
