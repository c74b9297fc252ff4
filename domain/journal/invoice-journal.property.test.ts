import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { InvoiceLine } from '../../contracts/invoice.ts';
import {
  adjustmentLine,
  creditLine,
  discountLine,
  feeLine,
  issuedInvoice,
  trueUpLine,
  usageLine,
} from '../../test/builders/issued-invoice.ts';
import { Decimal, formatMoney, minorUnits, sumDecimals } from '../money.ts';
import {
  assertBalanced,
  isIncomeStatementAccount,
  journalEntriesForInvoice,
  netDebitByAccount,
  tieOutUsageRevenue,
  type AdjustmentObligation,
  type JournalPolicy,
  type PrepaidCreditTerms,
} from './index.ts';

/** Arbitrary invoices built from valid lines: amounts are drawn in minor units, so every one is a whole number of them. */
const invoiceCase = fc
  .record({
    currency: fc.constantFrom('USD', 'JPY', 'KWD'),
    usage: fc.array(fc.integer({ min: 0, max: 5_000_000 }), { maxLength: 4 }),
    discounts: fc.array(fc.integer({ min: 0, max: 2_000_000 }), { maxLength: 2 }),
    fees: fc.array(fc.integer({ min: 0, max: 1_000_000 }), { maxLength: 2 }),
    commit: fc.option(
      fc.record({
        policy: fc.constantFrom<'ratable' | 'drawdown'>('ratable', 'drawdown'),
        amount: fc.integer({ min: 1, max: 8_000_000 }),
      }),
      { nil: undefined },
    ),
    adjustments: fc.array(
      fc.record({
        corrects: fc.constantFrom('2026-07', '2026-08', '2026-09'),
        amount: fc.integer({ min: -500_000, max: 500_000 }),
        obligation: fc.constantFrom<AdjustmentObligation>('usage', 'subscription', 'discount', 'commit'),
        priced: fc.boolean(),
      }),
      { maxLength: 3 },
    ),
    promotional: fc.array(fc.integer({ min: 0, max: 3_000_000 }), { maxLength: 2 }),
    prepaid: fc.array(
      fc.record({
        requested: fc.integer({ min: 0, max: 6_000_000 }),
        before: fc.integer({ min: 0, max: 1_000_000 }),
        extra: fc.integer({ min: 1, max: 1_000_000 }),
        paidPercent: fc.integer({ min: 0, max: 100 }),
      }),
      { maxLength: 2 },
    ),
  })
  .map((spec) => {
    const scale = new Decimal(10).pow(minorUnits(spec.currency));
    const money = (minor: Decimal | number): string => formatMoney(new Decimal(minor).dividedBy(scale), spec.currency);
    const lines: InvoiceLine[] = [];
    spec.usage.forEach((minor, index) => lines.push(usageLine(`usage-${index}`, money(minor))));
    let discountable = sumDecimals(spec.usage.map((minor) => new Decimal(minor)));
    spec.discounts.forEach((minor, index) => {
      const taken = Decimal.min(minor, discountable);
      discountable = discountable.minus(taken);
      lines.push(discountLine(`discount-${index}`, money(taken.negated())));
    });
    spec.fees.forEach((minor, index) => lines.push(feeLine(`fee-${index}`, money(minor))));
    const netUsage = sumDecimals(
      lines.map((line) => new Decimal(line.amount)).slice(0, spec.usage.length + spec.discounts.length),
    );
    const policy: { -readonly [K in keyof JournalPolicy]: JournalPolicy[K] } = {
      commitPolicy: spec.commit?.policy ?? 'drawdown',
      adjustmentObligations: {},
    };
    if (spec.commit) {
      policy.commitAmount = money(spec.commit.amount);
      lines.push(
        trueUpLine(formatMoney(Decimal.max(new Decimal(policy.commitAmount).minus(netUsage), 0), spec.currency)),
      );
    }
    spec.adjustments.forEach((adjustment, index) => {
      const priceId = adjustment.priced ? `price-${index}` : undefined;
      if (priceId)
        (policy.adjustmentObligations as Record<string, AdjustmentObligation>)[priceId] = adjustment.obligation;
      lines.push(
        adjustmentLine(
          `adjustment-${index}`,
          adjustment.corrects,
          money(adjustment.amount),
          priceId ? { price_id: priceId } : {},
        ),
      );
    });
    // SPEC §2 rule 10: promotional first, each at most what is still due, never past zero.
    let due = sumDecimals(lines.map((line) => new Decimal(line.amount)));
    const draw = (requested: Decimal): Decimal => {
      const drawn = Decimal.max(Decimal.min(requested, due), 0);
      due = due.minus(drawn);
      return drawn;
    };
    spec.promotional.forEach((minor, index) =>
      lines.push(
        creditLine(`promo-${index}`, 'promotional', money(draw(new Decimal(minor).dividedBy(scale)).negated())),
      ),
    );
    const prepaidCredits: PrepaidCreditTerms[] = spec.prepaid.map((credit, index) => {
      const drawn = draw(new Decimal(credit.requested).dividedBy(scale));
      lines.push(creditLine(`prepaid-${index}`, 'prepaid', money(drawn.negated())));
      const amountMinor = drawn.times(scale).plus(credit.before).plus(credit.extra);
      return {
        credit_id: `prepaid-${index}`,
        amount: money(amountMinor),
        consideration_paid: money(amountMinor.times(credit.paidPercent).dividedToIntegerBy(100)),
        consumed_before: money(credit.before),
      };
    });
    return { invoice: issuedInvoice(lines, { currency: spec.currency }), policy, prepaidCredits };
  });

describe('journalEntriesForInvoice: invariants over arbitrary invoices', () => {
  it('every entry balances, the flow accounts clear, and journal revenue ties to the invoice lines', () => {
    fc.assert(
      fc.property(invoiceCase, ({ invoice, policy, prepaidCredits }) => {
        const entries = journalEntriesForInvoice({ invoice, policy, prepaidCredits });
        for (const entry of entries) assertBalanced(entry);
        expect(new Set(entries.map((entry) => entry.entry_key)).size).toBe(entries.length);
        expect(journalEntriesForInvoice({ invoice, policy, prepaidCredits })).toEqual(entries);

        const zero = new Decimal(0);
        const net = netDebitByAccount(entries);
        expect((net.get('unbilled_receivables') ?? zero).isZero()).toBe(true);
        expect((net.get('deferred_revenue_subscriptions') ?? zero).isZero()).toBe(true);
        expect((net.get('accounts_receivable') ?? zero).eq(invoice.total)).toBe(true);
        const released = net.get('contract_liability_prepaid_credits') ?? zero;
        const prepaidDrawn = sumDecimals(
          invoice.lines
            .filter((line) => line.kind === 'credit' && line.credit_kind === 'prepaid')
            .map((line) => new Decimal(line.amount).negated()),
        );
        expect(released.gte(0) && released.lte(prepaidDrawn)).toBe(true);
        const revenue = [...net]
          .filter(([account]) => isIncomeStatementAccount(account))
          .reduce((sum, [, value]) => sum.minus(value), zero);
        expect(revenue.eq(released.plus(invoice.total))).toBe(true);

        for (const period of new Set([
          invoice.period,
          ...invoice.lines.flatMap((line) => (line.kind === 'adjustment' ? [line.corrects_period] : [])),
        ])) {
          const tieOut = tieOutUsageRevenue({ period, invoices: [invoice], entries, policy });
          expect(tieOut.differences).toEqual([]);
          expect(tieOut.usage_billed).toBe(tieOut.usage_revenue_recognized);
        }
      }),
      { numRuns: 300 },
    );
  });
});
