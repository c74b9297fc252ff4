import type { Price } from '../../../contracts/ratecard.ts';
import type { Decimal } from '../../money.ts';

/** The units of one price that one rate-card version segment prices (rule 11). */
export interface PriceSlice {
  readonly segment: number;
  /** effective_from of the version whose `price` applies. */
  readonly effectiveFrom: string;
  /** The price as that version defines it. */
  readonly price: Price;
  /** Billable units priced in this segment. */
  readonly billable: Decimal;
  /** Billable units of the same price id in earlier segments: where this slice starts on the tiers. */
  readonly before: Decimal;
}

/** One row of a usage line's breakdown: units at one tier's price (full precision, never rounded). */
export interface TierCharge {
  readonly segment: number;
  readonly effectiveFrom: string;
  /** 1-based tier number; 1 for per_unit. */
  readonly tier: number;
  readonly quantity: Decimal;
  readonly unitPrice: string;
  /** Present when this row also charges the tier's flat fee. */
  readonly flatFee?: Decimal;
  /** quantity × unitPrice + flatFee. */
  readonly amount: Decimal;
}
