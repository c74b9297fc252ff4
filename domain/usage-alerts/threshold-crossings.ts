import { Decimal } from '../money.ts';
import { TallyError } from '../../contracts/tally-error.ts';
import { DECIMAL_PATTERN } from '../../contracts/patterns.ts';

/** The shares of a reference amount that produce an alert, in percent, lowest first. */
const USAGE_ALERT_THRESHOLDS_PCT = [50, 75, 90, 100] as const;
export type UsageAlertThresholdPct = (typeof USAGE_ALERT_THRESHOLDS_PCT)[number];

/**
 * What month-to-date usage charges are measured against:
 * - `commit`: the contract's minimum commit for the period (prorated like the invoice's true-up);
 * - `prepaid`: the prepaid credit balance available at the start of the period.
 */
const USAGE_ALERT_BASES = ['commit', 'prepaid'] as const;
export type UsageAlertBasis = (typeof USAGE_ALERT_BASES)[number];

/** Reference amounts as decimal strings; an absent or non-positive one means the customer has no such basis. */
export type UsageAlertReferences = Partial<Readonly<Record<UsageAlertBasis, string>>>;

export interface NotifiedThreshold {
  readonly basis: UsageAlertBasis;
  readonly thresholdPct: UsageAlertThresholdPct;
}

export interface ThresholdCrossing extends NotifiedThreshold {
  /** The usage charges that crossed it, and the reference amount, as given. */
  readonly usage: string;
  readonly reference: string;
}

export class UsageAlertInputError extends TallyError {
  constructor(message: string) {
    super('usage_alert_input_invalid', message, { permanent: true });
  }
}

/**
 * The thresholds that month-to-date usage has newly reached, per basis: a threshold is reached when
 * `usage >= threshold% × reference` (exact decimal comparison, no rounding), and it is new when it
 * is not in `notified`. Crossing several at once yields each of them; one already notified is never
 * returned again, even if usage falls back below it (volume tiers or a price cut can lower charges)
 * and rises again. Bases come in `USAGE_ALERT_BASES` order, thresholds lowest first.
 *
 * @example commit 1000.00, prepaid 2000.00, usage 800.00, nothing notified
 *   → commit 50 (500.00 ≤ 800.00), commit 75 (750.00 ≤ 800.00); prepaid 50 needs 1000.00: nothing.
 * @example the same with usage 1000.00 and commit 50, 75 notified
 *   → commit 90 (900.00), commit 100 (1000.00: reaching the commit exactly counts), prepaid 50 (1000.00).
 * @example no commit and prepaid "0.00" → nothing, whatever the usage: neither basis exists.
 */
export function newThresholdCrossings(input: {
  readonly usage: string;
  readonly references: UsageAlertReferences;
  readonly notified: readonly NotifiedThreshold[];
}): ThresholdCrossing[] {
  const usage = parseDecimal(input.usage, 'usage');
  const notified = new Set(input.notified.map((threshold) => `${threshold.basis}:${threshold.thresholdPct}`));
  const crossings: ThresholdCrossing[] = [];
  for (const basis of USAGE_ALERT_BASES) {
    const referenceText = input.references[basis];
    if (referenceText === undefined) continue;
    const reference = parseDecimal(referenceText, `${basis} reference`);
    if (reference.lte(0)) continue;
    for (const thresholdPct of USAGE_ALERT_THRESHOLDS_PCT) {
      if (notified.has(`${basis}:${thresholdPct}`)) continue;
      // usage / reference >= pct / 100, without dividing.
      if (usage.times(100).gte(reference.times(thresholdPct))) {
        crossings.push({ basis, thresholdPct, usage: input.usage, reference: referenceText });
      }
    }
  }
  return crossings;
}

/**
 * Usage as a percent of the reference, rounded down to two decimals (so "100.00" means reached),
 * for messages and tables.
 *
 * @example usedPercent("800.00", "1000.00") === "80.00"; usedPercent("999.99", "1000.00") === "99.99"
 */
export function usedPercent(usage: string, reference: string): string {
  const referenceValue = parseDecimal(reference, 'reference');
  if (referenceValue.lte(0)) throw new UsageAlertInputError(`a reference amount must be above zero, got ${reference}`);
  const percent = parseDecimal(usage, 'usage').times(100).div(referenceValue).toDecimalPlaces(2, Decimal.ROUND_DOWN);
  // eslint-disable-next-line no-restricted-syntax -- Decimal#toFixed of a value already rounded to 2 places; no float involved
  return percent.toFixed(2);
}

function parseDecimal(text: string, what: string): Decimal {
  if (!DECIMAL_PATTERN.test(text))
    throw new UsageAlertInputError(`${what} must be a decimal string, got ${JSON.stringify(text)}`);
  return new Decimal(text);
}
