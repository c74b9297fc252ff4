import type { Price } from '../../../contracts/ratecard.ts';
import { Decimal } from '../../money.ts';
import type { PriceSlice, TierCharge } from './tier-charge.ts';

/** Test helpers for the price-model tables (not part of the engine's API). */
const OCTOBER = '2026-10-01T00:00:00.000Z';
export const MID_OCTOBER = '2026-10-16T00:00:00.000Z';

export function slice(price: Price, billable: string, before = '0', segment = 0, effectiveFrom = OCTOBER): PriceSlice {
  return { segment, effectiveFrom, price, billable: new Decimal(billable), before: new Decimal(before) };
}

/** Charges as plain rows a reader compares with the worked examples. */
export function rows(charges: readonly TierCharge[]): string[] {
  return charges.map(
    (charge) =>
      `${charge.effectiveFrom === OCTOBER ? '' : 'v2 '}tier ${charge.tier}: ${charge.quantity.toString()} × ${charge.unitPrice}${
        charge.flatFee ? ` + ${charge.flatFee.toString()}` : ''
      } = ${charge.amount.toString()}`,
  );
}

export function total(charges: readonly TierCharge[]): string {
  return charges.reduce((sum, charge) => sum.plus(charge.amount), new Decimal(0)).toString();
}
