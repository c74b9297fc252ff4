import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../contracts/journal-entry.ts';
import { issuedInvoice } from '../../test/builders/issued-invoice.ts';
import {
  buildAggregate,
  buildContract,
  buildFee,
  buildPrice,
  buildRateCardVersion,
  tiers,
} from '../../test/builders/rating.ts';
import {
  assertBalanced,
  commitDueForPeriod,
  isIncomeStatementAccount,
  journalEntriesForInvoice,
  netDebitByAccount,
  type AccountCode,
} from '../journal/index.ts';
import { Decimal, formatMoney, sumDecimals } from '../money.ts';
import { billingPeriod } from '../period.ts';
import { ratePeriod, type UsageAggregate } from '../rating/index.ts';
import { monthEndAccrual, recognitionSettlementEntry, recognizeDay, type RecognitionCredit } from './index.ts';

/**
 * Random months of usage on a graduated or volume price (tiers make the cumulative amount
 * non-linear, volume even non-monotonic), a fee, a discount, a commit under either policy,
 * promotional and prepaid credits (with a bonus), and late usage that arrives after the last
 * daily run but is on the invoice.
 */
const monthCase = fc.record({
  period: fc.constantFrom('2026-02', '2026-10', '2026-11'),
  model: fc.constantFrom<'graduated' | 'volume'>('graduated', 'volume'),
  daily: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 4_000 })), { minLength: 31, maxLength: 31 }),
  late: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3_000 })),
  fee: fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: undefined }),
  discountPercent: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
  commit: fc.option(
    fc.record({
      policy: fc.constantFrom<'ratable' | 'drawdown'>('ratable', 'drawdown'),
      cents: fc.integer({ min: 1, max: 200_000 }),
    }),
    { nil: undefined },
  ),
  promotional: fc.option(fc.integer({ min: 1, max: 50_000 }), { nil: undefined }),
  prepaid: fc.option(
    fc.record({
      cents: fc.integer({ min: 1, max: 150_000 }),
      paidPercent: fc.integer({ min: 1, max: 100 }),
      consumedBeforeCents: fc.integer({ min: 0, max: 10_000 }),
    }),
    { nil: undefined },
  ),
});

type MonthCase = typeof monthCase extends fc.Arbitrary<infer T> ? T : never;

const cents = (value: number): string => formatMoney(new Decimal(value).dividedBy(100), 'USD');

function setting(spec: MonthCase) {
  const period = billingPeriod(spec.period);
  const version = buildRateCardVersion({
    effective_from: '2026-01-01T00:00:00.000Z',
    prices: [
      buildPrice({
        id: 'tokens',
        model: spec.model,
        tiers: tiers(['1000', '0.10'], ['10000', '0.05'], [null, '0.013']),
      }),
    ],
    fees: spec.fee === undefined ? [] : [buildFee({ amount: cents(spec.fee) })],
    discounts:
      spec.discountPercent === undefined
        ? []
        : [{ id: 'launch', percent: String(spec.discountPercent), applies_to: ['tokens'] }],
  });
  const contract = buildContract({
    ...(spec.commit === undefined ? {} : { commit: { amount: cents(spec.commit.cents) } }),
  });
  const credits: RecognitionCredit[] = [];
  if (spec.promotional !== undefined)
    credits.push({
      id: 'promo',
      kind: 'promotional',
      remaining: cents(spec.promotional),
      granted_at: '2026-01-01T00:00:00Z',
    });
  if (spec.prepaid !== undefined) {
    const face = new Decimal(spec.prepaid.cents + spec.prepaid.consumedBeforeCents).dividedBy(100);
    credits.push({
      id: 'prepaid',
      kind: 'prepaid',
      remaining: cents(spec.prepaid.cents),
      granted_at: '2026-01-01T00:00:00Z',
      prepaid: {
        amount: formatMoney(face, 'USD'),
        consideration_paid: formatMoney(face.times(spec.prepaid.paidPercent).dividedBy(100), 'USD'),
        consumed_before: cents(spec.prepaid.consumedBeforeCents),
      },
    });
  }
  const days = Math.round((Date.parse(period.end) - Date.parse(period.start)) / 86_400_000);
  const rate = (quantity: number, withCredits: boolean) => {
    const aggregates: UsageAggregate[] =
      quantity === 0
        ? []
        : [
            buildAggregate({
              versionEffectiveFrom: '2026-01-01T00:00:00.000Z',
              quantitySum: String(quantity),
              latestTimestamp: period.start,
            }),
          ];
    return ratePeriod({
      customerId: 'acme',
      period,
      contract,
      versions: [version],
      aggregates,
      counters: { read: 0, duplicates: 0, outside_period: 0 },
      credits: withCredits ? credits : [],
      calculationVersion: 'calc-v1',
    });
  };
  return { period, contract, credits, days, rate };
}

/** Runs every day of the month in order, then issues the invoice (late usage included). */
function runMonth(spec: MonthCase) {
  const { contract, credits, days, rate } = setting(spec);
  const commitPolicy = spec.commit?.policy ?? 'drawdown';
  const recognized: JournalEntry[] = [];
  let quantity = 0;
  const positions: { day: string; entry: JournalEntry | null }[] = [];
  for (let dayOfMonth = 1; dayOfMonth <= days; dayOfMonth += 1) {
    quantity += spec.daily[dayOfMonth - 1] ?? 0;
    const ratedToDate = rate(quantity, false);
    const input = {
      customerId: 'acme',
      day: `${spec.period}-${String(dayOfMonth).padStart(2, '0')}`,
      ratedToDate,
      commit: { policy: commitPolicy, amount: commitDueForPeriod(ratedToDate.lines, contract.commit?.amount) },
      credits,
    };
    const { entry } = recognizeDay({ ...input, recognized });
    if (entry !== null) recognized.push(entry);
    // A rerun of the same day posts nothing new.
    expect(recognizeDay({ ...input, recognized }).entry).toBeNull();
    positions.push({ day: input.day, entry });
  }
  const rated = rate(quantity + spec.late, true);
  const invoice = issuedInvoice(rated.lines, { period: spec.period, currency: 'USD' });
  const invoiceEntries = journalEntriesForInvoice({
    invoice,
    policy: { commitPolicy, commitAmount: commitDueForPeriod(invoice.lines, contract.commit?.amount) },
    prepaidCredits: credits.flatMap((credit) =>
      credit.prepaid === undefined ? [] : [{ credit_id: credit.id, ...credit.prepaid }],
    ),
  });
  const settlement = recognitionSettlementEntry({
    customerId: 'acme',
    currency: 'USD',
    period: spec.period,
    invoiceId: invoice.invoice_id,
    recognized,
  });
  return { recognized, settlement, invoice, invoiceEntries };
}

const zero = new Decimal(0);
const revenueSide = (net: Map<AccountCode, Decimal>): Record<string, string> =>
  Object.fromEntries(
    [...net]
      .filter(
        ([account, amount]) =>
          (isIncomeStatementAccount(account) || account === 'contract_liability_prepaid_credits') && !amount.isZero(),
      )
      .map(([account, amount]) => [account, formatMoney(amount, 'USD')])
      .sort(([a], [b]) => ((a ?? '') < (b ?? '') ? -1 : 1)),
  );

describe('recognizeDay over random months', () => {
  it('balances every entry, and the settlement nets the daily entries to zero on every account', () => {
    fc.assert(
      fc.property(monthCase, (spec) => {
        const { recognized, settlement } = runMonth(spec);
        for (const entry of recognized) assertBalanced(entry);
        if (settlement !== null) assertBalanced(settlement);
        const net = netDebitByAccount([...recognized, ...(settlement === null ? [] : [settlement])]);
        for (const amount of net.values()) expect(formatMoney(amount, 'USD')).toBe('0.00');
      }),
      { numRuns: 60 },
    );
  });

  it('recognizes through the last day exactly what the invoice recognizes when no usage arrives late', () => {
    fc.assert(
      fc.property(monthCase, (original) => {
        const spec = { ...original, late: 0 };
        const { recognized, invoiceEntries } = runMonth(spec);
        expect(revenueSide(netDebitByAccount(recognized))).toEqual(revenueSide(netDebitByAccount(invoiceEntries)));
      }),
      { numRuns: 60 },
    );
  });

  it('keeps, after daily recognition, settlement and invoice, exactly the invoice usage revenue, late usage included', () => {
    fc.assert(
      fc.property(monthCase, (spec) => {
        const { recognized, settlement, invoice, invoiceEntries } = runMonth(spec);
        const usageCredited = (entries: readonly JournalEntry[]): Decimal =>
          (netDebitByAccount(entries).get('usage_revenue') ?? zero).negated();
        const kept = usageCredited([...recognized, ...(settlement === null ? [] : [settlement]), ...invoiceEntries]);
        const reclassifiedToCommit =
          netDebitByAccount(invoiceEntries.filter((entry) => entry.entry_type === 'commit_recognized')).get(
            'usage_revenue',
          ) ?? zero;
        const usageLines = sumDecimals(
          invoice.lines.filter((line) => line.kind === 'usage').map((line) => new Decimal(line.amount)),
        );
        expect(formatMoney(kept, 'USD')).toBe(formatMoney(usageLines.minus(reclassifiedToCommit), 'USD'));
      }),
      { numRuns: 60 },
    );
  });
});

/**
 * The same months not invoiced at month end: usage stored within the latency window goes into the
 * month-end accrual, usage stored after it into a true-up (a rerun with nothing new posts nothing),
 * then the invoice posts against the reversals (all of it billed).
 */
const accruedMonthCase = fc.record({
  month: monthCase,
  withinWindow: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3_000 })),
  afterWindow: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3_000 })),
});

function runAccruedMonth({
  month,
  withinWindow,
  afterWindow,
}: typeof accruedMonthCase extends fc.Arbitrary<infer T> ? T : never) {
  const spec = { ...month, late: 0 };
  const { contract, credits, days, rate } = setting(spec);
  const commitPolicy = spec.commit?.policy ?? 'drawdown';
  const { recognized } = runMonth(spec);
  const daysQuantity = spec.daily.slice(0, days).reduce((sum, quantity) => sum + quantity, 0);
  const entries: JournalEntry[] = [...recognized];
  let accrued = false;
  const accrue = (quantity: number) => {
    const ratedToDate = rate(quantity, false);
    const result = monthEndAccrual({
      customerId: 'acme',
      period: spec.period,
      ratedToDate,
      commit: { policy: commitPolicy, amount: commitDueForPeriod(ratedToDate.lines, contract.commit?.amount) },
      credits,
      recognized: entries,
      accrued,
    });
    accrued = true;
    for (const entry of [result.entry, result.reversal]) if (entry !== null) entries.push(entry);
    return result;
  };
  const accrual = accrue(daysQuantity + withinWindow);
  const trueUp = accrue(daysQuantity + withinWindow + afterWindow);
  const rerun = accrue(daysQuantity + withinWindow + afterWindow);
  const rated = rate(daysQuantity + withinWindow + afterWindow, true);
  const invoice = issuedInvoice(rated.lines, { period: spec.period, currency: 'USD' });
  const invoiceEntries = journalEntriesForInvoice({
    invoice,
    policy: { commitPolicy, commitAmount: commitDueForPeriod(invoice.lines, contract.commit?.amount) },
    prepaidCredits: credits.flatMap((credit) =>
      credit.prepaid === undefined ? [] : [{ credit_id: credit.id, ...credit.prepaid }],
    ),
  });
  const settlement = recognitionSettlementEntry({
    customerId: 'acme',
    currency: 'USD',
    period: spec.period,
    invoiceId: invoice.invoice_id,
    recognized: entries,
  });
  return { accrual, trueUp, rerun, entries, invoice, invoiceEntries, settlement };
}

describe('monthEndAccrual over random months', () => {
  it('balances every entry; accrual and true-ups net to zero after their reversals; a rerun posts nothing', () => {
    fc.assert(
      fc.property(accruedMonthCase, (spec) => {
        const { accrual, trueUp, rerun, entries, settlement } = runAccruedMonth(spec);
        expect(accrual.kind).toBe('accrual');
        expect(trueUp.kind).toBe('true_up');
        if (spec.afterWindow === 0) expect(trueUp.entry).toBeNull();
        expect(rerun.entry).toBeNull();
        for (const entry of entries) assertBalanced(entry);
        for (const amount of netDebitByAccount(entries).values()) expect(formatMoney(amount, 'USD')).toBe('0.00');
        // The reversals took the whole position out: the invoice's settlement has nothing left.
        expect(settlement).toBeNull();
      }),
      { numRuns: 60 },
    );
  });

  it('accrues in the month exactly what the invoice recognizes, and keeps exactly its usage revenue across both months', () => {
    fc.assert(
      fc.property(accruedMonthCase, (spec) => {
        const { entries, invoice, invoiceEntries } = runAccruedMonth(spec);
        const accrued = entries.filter((entry) => entry.entry_type !== 'accrual_reversed');
        // The month's books (days, accrual, true-ups) hold what the invoice, billed later, recognizes.
        expect(revenueSide(netDebitByAccount(accrued))).toEqual(revenueSide(netDebitByAccount(invoiceEntries)));
        const kept = (netDebitByAccount([...entries, ...invoiceEntries]).get('usage_revenue') ?? zero).negated();
        const reclassifiedToCommit =
          netDebitByAccount(invoiceEntries.filter((entry) => entry.entry_type === 'commit_recognized')).get(
            'usage_revenue',
          ) ?? zero;
        const usageLines = sumDecimals(
          invoice.lines.filter((line) => line.kind === 'usage').map((line) => new Decimal(line.amount)),
        );
        expect(formatMoney(kept, 'USD')).toBe(formatMoney(usageLines.minus(reclassifiedToCommit), 'USD'));
      }),
      { numRuns: 60 },
    );
  });
});
