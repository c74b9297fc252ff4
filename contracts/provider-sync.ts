import { z } from 'zod';

/**
 * Where an issued invoice is synced: the `provider` block of a contract (SPEC §3), e.g.
 * `provider: { kind: stripe, customer: cus_123 }`. `stripe` names an existing Stripe customer;
 * `ledger` is the embedded Postgres sink and may name an external customer id (default: the
 * invoice's customer_id).
 */
const ProviderKindSchema = z.enum(['ledger', 'stripe', 'marketplace']);
export type ProviderKind = z.infer<typeof ProviderKindSchema>;

const StripeTargetSchema = z.strictObject({
  kind: z.literal('stripe'),
  customer: z.string().regex(/^cus_[A-Za-z0-9]{1,250}$/, 'customer is an existing Stripe customer id (cus_…)'),
});
const LedgerTargetSchema = z.strictObject({
  kind: z.literal('ledger'),
  customer: z.string().min(1).max(255).optional(),
});
/**
 * A contract with `marketplace:` (SPEC §12): the marketplace invoices the customer from the usage
 * Tally reports hour by hour, so the issued invoice is recorded as billed there, never sent on.
 */
const MarketplaceTargetSchema = z.strictObject({
  kind: z.literal('marketplace'),
  marketplace: z.enum(['aws', 'azure', 'gcp']),
  /** The buyer at the marketplace: the AWS account, the Azure resource, the Google consumer id. */
  customer: z.string().min(1).max(255),
});
export const ProviderTargetSchema = z.discriminatedUnion('kind', [
  StripeTargetSchema,
  LedgerTargetSchema,
  MarketplaceTargetSchema,
]);
export type StripeTarget = z.infer<typeof StripeTargetSchema>;
export type ProviderTarget = z.infer<typeof ProviderTargetSchema>;

/**
 * What a provider sync returns and what `provider_sync_records` stores: the external ids of an
 * issued invoice at its provider. Syncing the same invoice again returns the same ids.
 */
export const ProviderSyncResultSchema = z.object({
  provider: ProviderKindSchema,
  invoice_id: z.string(),
  external_customer_id: z.string(),
  external_invoice_id: z.string(),
  /** The invoice's status at the provider after the sync: `recorded` (ledger), or Stripe's (`open`, `paid`, …). */
  status: z.string(),
  /** line_key → the external id of the item that carries that invoice line. */
  items: z.record(z.string(), z.string()),
  synced_at: z.iso.datetime({ offset: true }),
});
export type ProviderSyncResult = z.infer<typeof ProviderSyncResultSchema>;
