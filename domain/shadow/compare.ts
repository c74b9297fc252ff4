import type { Invoice } from '../../contracts/invoice.ts';
import type { CustomerComparison, DiffCause, LineComparison, LineStatus } from '../../contracts/review-exception.ts';
import { Decimal, formatDecimal, formatMoney, minorUnits, sumDecimals } from '../money.ts';
import { periodBoundaryZone, tierBoundaryExplanation, utcOffsetName, type BoundaryUsage } from './boundary-causes.ts';
import type { LegacyLine } from './legacy-line.ts';
import { keyedInvoiceLines, type KeyedLine } from './line-keys.ts';

// The comparison's shape is a contract (it is stored in shadow results and exception contexts).
export type { CustomerComparison } from '../../contracts/review-exception.ts';
type CustomerStatus = LineStatus;

/** The contract's shadow thresholds (`review.shadow_variance_pct` / `_abs`); a missing one is 0. */
export interface ShadowThresholds {
  readonly variancePctAbove?: string | undefined;
  readonly varianceAbsAbove?: string | undefined;
}

export interface CustomerPeriodComparisonInput {
  readonly customerId: string;
  /** This customer-period's legacy lines (none: `only_new`). */
  readonly legacy: readonly LegacyLine[];
  /** Tally's re-rated draft (undefined: `only_legacy`). */
  readonly invoice: Pick<Invoice, 'currency' | 'lines'> | undefined;
  readonly thresholds: ShadowThresholds;
  /**
   * Tally's usage near the period's edges, per usage key (sum and count prices), to prove a
   * `period_boundary` cause; without it that cause is never claimed.
   */
  readonly boundaryUsage?: readonly BoundaryUsage[] | undefined;
}

/**
 * Compares one customer-period, legacy vs Tally's draft, by the rules of SPEC §6.
 *
 * Worked example (USD): legacy `tokens-us` 15000 units for 600.00, Tally 15250 units for 610.00:
 * delta 10.00; quantity_effect = 250 × 600.00 ÷ 15000 = 10.00; price_effect = 0.00. Variance
 * 10.00 on a legacy total of 990.00 is 1.01 %: an exception under `shadow_variance_pct: "1"`.
 *
 * A key one side lacks while the other bills it at zero compares as `match` (a zero line and no
 * line bill the same); see docs/decisions/shadow.md.
 */
export function compareCustomerPeriod(input: CustomerPeriodComparisonInput): CustomerComparison {
  const legacyCurrency = input.legacy[0]?.currency;
  const currency = input.invoice?.currency ?? legacyCurrency;
  if (currency === undefined) throw new Error(`${input.customerId}: nothing to compare (no legacy lines, no invoice)`);
  const legacyLines = keyedLegacyLines(input.legacy);
  const newLines = input.invoice === undefined ? [] : keyedInvoiceLines(input.invoice);
  const legacyTotal = sumDecimals(legacyLines.map((line) => line.amount));
  const newTotal = sumDecimals(newLines.map((line) => line.amount));
  const status: CustomerStatus =
    input.invoice === undefined ? 'only_legacy' : input.legacy.length === 0 ? 'only_new' : 'match';

  const crossCurrency = legacyCurrency !== undefined && input.invoice !== undefined && legacyCurrency !== currency;
  if (crossCurrency) {
    // Amounts in two currencies are never netted: every line stands on its own side.
    const lines = [
      ...legacyLines.map((line) => oneSided(line, 'only_legacy', legacyCurrency)),
      ...newLines.map((line) => oneSided(line, 'only_new', currency)),
    ];
    return {
      customer_id: input.customerId,
      status: 'diff',
      currency,
      legacy_currency: legacyCurrency,
      legacy_total: formatMoney(legacyTotal, legacyCurrency),
      new_total: formatMoney(newTotal, currency),
      variance: null,
      variance_pct: null,
      exception: true,
      exception_reasons: [`the legacy lines are in ${legacyCurrency}, Tally's invoice in ${currency}`],
      lines,
    };
  }

  const legacyByKey = new Map(legacyLines.map((line) => [line.key, line]));
  const newByKey = new Map(newLines.map((line) => [line.key, line]));
  const keys = [...new Set([...newLines.map((line) => line.key), ...legacyLines.map((line) => line.key)])];
  const creditTotal = (side: readonly KeyedLine[]) =>
    sumDecimals(side.filter((line) => line.key.startsWith('credit:')).map((line) => line.amount));
  const creditsAgree = creditTotal(legacyLines).eq(creditTotal(newLines));
  const differing = keys.flatMap((key) => {
    const legacyQuantity = legacyByKey.get(key)?.quantity;
    const newQuantity = newByKey.get(key)?.quantity;
    return legacyQuantity !== undefined && newQuantity !== undefined && !legacyQuantity.eq(newQuantity)
      ? [{ key, legacyQuantity, newQuantity }]
      : [];
  });
  const zone = input.boundaryUsage === undefined ? undefined : periodBoundaryZone(differing, input.boundaryUsage);
  const lines = keys.map((key) =>
    compareLine(key, legacyByKey.get(key), newByKey.get(key), currency, { creditsAgree, zone }),
  );

  const variance = newTotal.minus(legacyTotal);
  const variancePct = legacyTotal.isZero()
    ? null
    : variance.abs().dividedBy(legacyTotal.abs()).times(100).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
  const customerStatus: CustomerStatus =
    status !== 'match' ? status : lines.every((line) => line.status === 'match') ? 'match' : 'diff';

  const reasons: string[] = [];
  const absAbove = new Decimal(input.thresholds.varianceAbsAbove ?? '0');
  const pctAbove = new Decimal(input.thresholds.variancePctAbove ?? '0');
  if (customerStatus === 'only_legacy') reasons.push('Tally has no invoice for a customer the legacy biller billed');
  if (customerStatus === 'only_new') reasons.push('the legacy biller has no lines for a customer Tally billed');
  if (variance.abs().greaterThan(absAbove))
    reasons.push(
      `|variance| ${formatMoney(variance.abs(), currency)} ${currency} > ${formatMoney(absAbove, currency)} ${currency}`,
    );
  if (variancePct === null ? !variance.isZero() : variancePct.greaterThan(pctAbove))
    reasons.push(
      variancePct === null
        ? 'a non-zero variance on a legacy total of 0'
        : `variance ${formatPercent(variancePct)} % > ${formatDecimal(pctAbove)} %`,
    );

  return {
    customer_id: input.customerId,
    status: customerStatus,
    currency,
    legacy_total: formatMoney(legacyTotal, currency),
    new_total: formatMoney(newTotal, currency),
    variance: formatMoney(variance, currency),
    variance_pct: variancePct === null ? null : formatPercent(variancePct),
    exception: reasons.length > 0,
    exception_reasons: reasons,
    lines,
  };
}

/** Legacy lines by key (the import refuses duplicate keys, but sum defensively like Tally's side). */
function keyedLegacyLines(lines: readonly LegacyLine[]): KeyedLine[] {
  const byKey = new Map<string, { amount: Decimal; quantity: Decimal | undefined }>();
  for (const line of lines) {
    const amount = new Decimal(line.amount);
    const quantity = line.quantity === undefined ? undefined : new Decimal(line.quantity);
    const seen = byKey.get(line.price_id);
    byKey.set(
      line.price_id,
      seen === undefined
        ? { amount, quantity }
        : {
            amount: seen.amount.plus(amount),
            quantity: quantity === undefined ? seen.quantity : (seen.quantity ?? new Decimal(0)).plus(quantity),
          },
    );
  }
  return [...byKey].map(([key, value]) => ({ key, ...value }));
}

function compareLine(
  key: string,
  legacy: KeyedLine | undefined,
  tally: KeyedLine | undefined,
  currency: string,
  customer: { readonly creditsAgree: boolean; readonly zone: number | undefined },
): LineComparison {
  const legacyAmount = legacy?.amount ?? new Decimal(0);
  const newAmount = tally?.amount ?? new Decimal(0);
  const delta = newAmount.minus(legacyAmount);
  const quantitiesDiffer =
    legacy?.quantity !== undefined && tally?.quantity !== undefined && !legacy.quantity.eq(tally.quantity);
  const status: LineStatus =
    delta.isZero() && !quantitiesDiffer
      ? 'match'
      : legacy === undefined
        ? 'only_new'
        : tally === undefined
          ? 'only_legacy'
          : 'diff';
  const base: LineComparison = {
    key,
    status,
    ...(legacy?.quantity !== undefined ? { legacy_quantity: formatDecimal(legacy.quantity) } : {}),
    ...(tally?.quantity !== undefined ? { new_quantity: formatDecimal(tally.quantity) } : {}),
    ...(legacy !== undefined ? { legacy_amount: formatMoney(legacy.amount, currency) } : {}),
    ...(tally !== undefined ? { new_amount: formatMoney(tally.amount, currency) } : {}),
  };
  if (status === 'match') return base;
  const withDelta = { ...base, delta: formatMoney(delta, currency) };
  const isUsage = legacy?.quantity !== undefined || tally?.quantity !== undefined;
  if (!isUsage)
    return status === 'diff'
      ? { ...withDelta, cause: causeWithoutQuantities(key, legacy, tally, currency, customer.creditsAgree) }
      : withDelta;
  const quantityEffect = quantityEffectOf(legacy, tally, currency);
  const priceEffect = delta.minus(quantityEffect);
  const effects = {
    ...withDelta,
    quantity_effect: formatMoney(quantityEffect, currency),
    price_effect: formatMoney(priceEffect, currency),
  };
  if (status !== 'diff') return effects;
  return { ...effects, ...causeOf(legacy, tally, delta, priceEffect, currency, customer.zone) };
}

/**
 * `(new_quantity − legacy_quantity) × legacy_amount ÷ legacy_quantity`, half-up to the minor unit;
 * 0 when the legacy quantity is 0 or empty. A side without the line has quantity 0.
 */
function quantityEffectOf(legacy: KeyedLine | undefined, tally: KeyedLine | undefined, currency: string): Decimal {
  const legacyQuantity = legacy?.quantity;
  if (legacy === undefined || legacyQuantity === undefined || legacyQuantity.isZero()) return new Decimal(0);
  const newQuantity = tally?.quantity ?? new Decimal(0);
  return newQuantity
    .minus(legacyQuantity)
    .times(legacy.amount)
    .dividedBy(legacyQuantity)
    .toDecimalPlaces(minorUnits(currency), Decimal.ROUND_HALF_UP);
}

function causeOf(
  legacy: KeyedLine | undefined,
  tally: KeyedLine | undefined,
  delta: Decimal,
  priceEffect: Decimal,
  currency: string,
  zone: number | undefined,
): { cause: DiffCause; cause_detail?: string } {
  const legacyQuantity = legacy?.quantity;
  const newQuantity = tally?.quantity;
  if (legacy === undefined || tally === undefined || legacyQuantity === undefined || newQuantity === undefined)
    return { cause: 'unexplained' };
  const minorUnit = new Decimal(1).dividedBy(new Decimal(10).pow(minorUnits(currency)));
  if (legacyQuantity.eq(newQuantity)) {
    if (delta.abs().lessThanOrEqualTo(minorUnit)) return { cause: 'rounding' };
    const tiers =
      tally.tiers === undefined
        ? undefined
        : tierBoundaryExplanation({
            tiers: tally.tiers,
            quantity: newQuantity,
            legacyAmount: legacy.amount,
            newAmount: tally.amount,
            minorUnit,
          });
    return tiers === undefined ? { cause: 'price' } : { cause: 'tier_boundary', cause_detail: tiers };
  }
  // Quantities differ: the unit price agrees when the price effect is at most the rounding of the split.
  if (!priceEffect.abs().lessThanOrEqualTo(minorUnit)) return { cause: 'unexplained' };
  return zone === undefined
    ? { cause: 'missing_or_duplicate_events' }
    : { cause: 'period_boundary', cause_detail: `the legacy biller's month runs in ${utcOffsetName(zone)}` };
}

function causeWithoutQuantities(
  key: string,
  legacy: KeyedLine | undefined,
  tally: KeyedLine | undefined,
  currency: string,
  creditsAgree: boolean,
): DiffCause {
  if (key.startsWith('credit:') && creditsAgree) return 'credit_drawdown_order';
  const share = tally?.proration;
  if (legacy !== undefined && tally !== undefined && share !== undefined && share.lessThan(1)) {
    const minorUnit = new Decimal(1).dividedBy(new Decimal(10).pow(minorUnits(currency)));
    if (legacy.amount.times(share).minus(tally.amount).abs().lessThanOrEqualTo(minorUnit)) return 'proration';
  }
  return 'unexplained';
}

function oneSided(line: KeyedLine, status: 'only_legacy' | 'only_new', currency: string): LineComparison {
  const side = status === 'only_legacy' ? 'legacy' : 'new';
  return {
    key: line.key,
    status,
    ...(line.quantity !== undefined ? { [`${side}_quantity`]: formatDecimal(line.quantity) } : {}),
    [`${side}_amount`]: formatMoney(line.amount, currency),
  };
}

/** A percentage already rounded to 2 decimals, printed with both digits ("1.00"). */
function formatPercent(value: Decimal): string {
  // eslint-disable-next-line no-restricted-syntax -- Decimal#toFixed of a value already rounded half-up to 2 places; no float involved
  return value.toFixed(2);
}
