import { z } from 'zod';
import { DECIMAL_PATTERN, NON_NEGATIVE_DECIMAL_PATTERN } from './patterns.ts';

/**
 * The invoice of SPEC §4: what `tally rate --json` and `tally invoice show --json` print.
 * Amounts are decimal strings with exactly the currency's minor digits; quantities and tier
 * breakdowns are decimal strings at full precision. Every line has a deterministic `line_key`,
 * stable across re-ratings of the same input, that provider sync and the journal key their writes by.
 */
const Money = z.string().regex(DECIMAL_PATTERN, 'a decimal string');
const Quantity = z.string().regex(NON_NEGATIVE_DECIMAL_PATTERN, 'a non-negative decimal string');
const Instant = z.iso.datetime({ offset: true });

const TierBreakdownSchema = z.object({
  tier: z.number().int().positive(),
  quantity: Quantity,
  unit_price: Money,
  flat_fee: Money.optional(),
  /** Full precision: rounding happens once, on the line. */
  amount: Money,
  /** The rate-card version (effective_from) whose price applied, when a version change splits the period. */
  effective_from: Instant.optional(),
});

export const UsageLineSchema = z.object({
  kind: z.literal('usage'),
  line_key: z.string(),
  price_id: z.string(),
  sku: z.string(),
  unit: z.string(),
  quantity: Quantity,
  billable_quantity: Quantity,
  amount: Money,
  event_count: z.number().int().nonnegative(),
  tiers: z.array(TierBreakdownSchema),
});

const FeeLineSchema = z.object({
  kind: z.literal('fee'),
  line_key: z.string(),
  price_id: z.string(),
  description: z.string(),
  amount: Money,
  /** Share of the period billed, a decimal in [0, 1], when the contract or a rate-card version covers part of it. */
  proration: z.string().optional(),
});

const DiscountLineSchema = z.object({
  kind: z.literal('discount'),
  line_key: z.string(),
  price_id: z.string(),
  description: z.string().optional(),
  amount: Money,
});

const CommitTrueUpLineSchema = z.object({
  kind: z.literal('commit_true_up'),
  line_key: z.string(),
  /** The shortfall billed (0 when usage and discounts reach the commit). */
  amount: Money,
  /** The commit due for this period (prorated when the contract covers part of it). */
  commit: Money.optional(),
  /** Share of the period the contract covers, a decimal in [0, 1], when less than all of it. */
  proration: z.string().optional(),
});

const CreditLineSchema = z.object({
  kind: z.literal('credit'),
  line_key: z.string(),
  credit_id: z.string(),
  credit_kind: z.enum(['promotional', 'prepaid']),
  amount: Money,
});

const AdjustmentLineSchema = z.object({
  kind: z.literal('adjustment'),
  line_key: z.string(),
  /** The closed period and the issued invoice this line corrects. */
  corrects_period: z.string(),
  corrects_invoice_id: z.string(),
  price_id: z.string().optional(),
  reason: z.string(),
  amount: Money,
});

const InvoiceLineSchema = z.discriminatedUnion('kind', [
  UsageLineSchema,
  FeeLineSchema,
  DiscountLineSchema,
  CommitTrueUpLineSchema,
  CreditLineSchema,
  AdjustmentLineSchema,
]);

export const RateCardVersionRefSchema = z.object({
  ratecard: z.string(),
  effective_from: Instant,
  content_hash: z.string(),
});

export const InvoiceSchema = z.object({
  customer_id: z.string(),
  period: z.string().regex(/^\d{4}-\d{2}$/),
  currency: z.string().length(3),
  period_start: Instant,
  period_end: Instant,
  lines: z.array(InvoiceLineSchema),
  subtotal: Money,
  total: Money,
  /** Usage no price matched (rule 2): reported, never billed at zero. */
  unpriced: z.array(
    z.object({
      sku: z.string(),
      unit: z.string(),
      event_count: z.number().int().nonnegative(),
      /** Sum of the events' quantities. */
      quantity: Quantity.optional(),
      /** no_matching_price | unit_mismatch (the sku is priced in another unit) | no_ratecard_version (before the card's first version). */
      reason: z.enum(['no_matching_price', 'unit_mismatch', 'no_ratecard_version']).optional(),
    }),
  ),
  events: z.object({
    read: z.number().int().nonnegative(),
    duplicates: z.number().int().nonnegative(),
    outside_period: z.number().int().nonnegative(),
  }),
  ratecard_versions: z.array(RateCardVersionRefSchema),
  calculation_version: z.string(),
});

/** What an issued invoice adds: identity, immutability markers and the lineage of its event set. */
export const IssuedInvoiceSchema = InvoiceSchema.extend({
  invoice_id: z.string(),
  invoice_number: z.string(),
  issued_at: Instant,
  /** Events received after this instant are not in this invoice (they become adjustments). */
  event_cutoff: Instant,
  /** sha256 over the sorted (source, event_id, body hash) of the exact event set. */
  event_fingerprint: z.string(),
});

export type TierBreakdown = z.infer<typeof TierBreakdownSchema>;
export type UsageLine = z.infer<typeof UsageLineSchema>;
export type FeeLine = z.infer<typeof FeeLineSchema>;
export type DiscountLine = z.infer<typeof DiscountLineSchema>;
export type CommitTrueUpLine = z.infer<typeof CommitTrueUpLineSchema>;
export type CreditLine = z.infer<typeof CreditLineSchema>;
export type AdjustmentLine = z.infer<typeof AdjustmentLineSchema>;
export type InvoiceLine = z.infer<typeof InvoiceLineSchema>;
export type Invoice = z.infer<typeof InvoiceSchema>;
export type IssuedInvoice = z.infer<typeof IssuedInvoiceSchema>;
export type RateCardVersionRef = z.infer<typeof RateCardVersionRefSchema>;
