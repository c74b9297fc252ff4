import type { MarketplaceKind } from '../../contracts/contract.ts';
import { Decimal } from '../money.ts';

/** At most this many records in one metering call, for all three marketplaces (AWS and Azure: 25). */
export const MAX_RECORDS_PER_CALL = 25;

/**
 * What each marketplace takes, as far as a record's quantity and an empty hour go.
 *
 * | | quantity | empty hour | late usage |
 * | --- | --- | --- | --- |
 * | AWS | whole units, 0 – 2,147,483,647 | sent as 0 | a positive delta in a later hour's record |
 * | Azure | > 0, decimals allowed | omitted | a positive delta in a later hour's event |
 * | Google | int64 (sent as `int64Value`) | omitted | a new operation |
 */
export interface MarketplaceRules {
  readonly kind: MarketplaceKind;
  /** Decimal places a sent quantity may have; what is finer is carried to the next hour. */
  readonly quantityScale: number;
  /** The largest quantity one record may carry; more waits for the next hour. */
  readonly maxQuantity: Decimal;
  /** AWS wants a record for every hour, 0 included; the others take none for an empty hour. */
  readonly sendsEmptyHours: boolean;
  /** `fold`: late usage rides on a later hour's one record; `separate`: it is a record of its own. */
  readonly lateUsage: 'fold' | 'separate';
}

/**
 * Azure documents quantities as "integer or float"; Tally sends at most `azureQuantityScale`
 * decimals (default 6) and at most 10^9 per event, so a quantity keeps every digit through the
 * marketplace's double (15 significant digits).
 */
export function marketplaceRules(
  kind: MarketplaceKind,
  options: { azureQuantityScale?: number } = {},
): MarketplaceRules {
  switch (kind) {
    case 'aws':
      return {
        kind,
        quantityScale: 0,
        maxQuantity: new Decimal('2147483647'),
        sendsEmptyHours: true,
        lateUsage: 'fold',
      };
    case 'azure':
      return {
        kind,
        quantityScale: options.azureQuantityScale ?? 6,
        maxQuantity: new Decimal('1000000000'),
        sendsEmptyHours: false,
        lateUsage: 'fold',
      };
    case 'gcp':
      return {
        kind,
        quantityScale: 0,
        maxQuantity: new Decimal('9223372036854775807'),
        sendsEmptyHours: false,
        lateUsage: 'separate',
      };
  }
}

/**
 * The part of `total` (price units) one record sends, in listing units: whole multiples of
 * 10^-scale of `unitSize`, at most `max`; the rest is carried. Exact: the quotient is checked back
 * by multiplication, so a division rounded at the last of its 60 digits never sends more than `total`.
 *
 * @example total 2500 tokens, unit size 1000, scale 0 → sent 2, carried 500.
 * @example total 0.7 GB, unit size 1, scale 6 → sent 0.7, carried 0.
 */
export function splitSendable(
  total: Decimal,
  unitSize: Decimal,
  scale: number,
  max: Decimal,
): { sent: Decimal; carried: Decimal } {
  if (total.isNegative()) throw new Error(`cannot send a negative total ${total.toString()}`);
  const step = new Decimal(10).pow(-scale);
  let units = total.dividedBy(unitSize).dividedBy(step).floor();
  while (units.times(step).times(unitSize).greaterThan(total)) units = units.minus(1);
  while (units.plus(1).times(step).times(unitSize).lessThanOrEqualTo(total)) units = units.plus(1);
  let sent = units.times(step);
  if (sent.greaterThan(max)) sent = max;
  return { sent, carried: total.minus(sent.times(unitSize)) };
}
