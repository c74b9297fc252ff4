/**
 * One row of the legacy import CSV of SPEC §6, as validated: decimal strings, `quantity` undefined
 * when the cell was empty, `amount` with exactly the currency's minor digits.
 */
export interface LegacyLine {
  readonly customer_id: string;
  readonly period: string;
  /** The Tally line key the legacy line stands for. */
  readonly price_id: string;
  readonly quantity: string | undefined;
  readonly amount: string;
  readonly currency: string;
}

/** The CSV header, exactly. */
export const LEGACY_CSV_HEADER = ['customer_id', 'period', 'price_id', 'quantity', 'amount', 'currency'] as const;
