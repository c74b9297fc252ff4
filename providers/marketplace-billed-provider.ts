import type pg from 'pg';
import type { IssuedInvoice } from '../contracts/invoice.ts';
import type { ProviderSyncResult, ProviderTarget } from '../contracts/provider-sync.ts';
import { insertSyncRecord } from '../db/queries/provider-sync-records.ts';
import type { BillingProvider } from './billing-provider.ts';
import { ProviderError, storageError } from './provider-error.ts';

/** The external id a marketplace-billed invoice is recorded under: derived from Tally's own id. */
function marketplaceBilledInvoiceId(invoiceId: string): string {
  return `marketplace:${invoiceId}`;
}

/**
 * The "provider" of a contract with `marketplace:` (SPEC §12): the marketplace invoices the customer
 * from the hourly usage Tally reports, so step 6 of the period close sends nothing anywhere. It
 * records, once, that the issued invoice is billed by that marketplace (status
 * `billed_by_marketplace`), so the close, the console and the reconciliation see a settled sync
 * instead of a missing one. The invoice stays Tally's rated record of the month (its lines are what
 * the marketplace statement should add up to).
 */
export class MarketplaceBilledProvider implements BillingProvider {
  readonly kind = 'marketplace' as const;

  constructor(private readonly options: { readonly pool: pg.Pool }) {}

  async syncInvoice(invoice: IssuedInvoice, target: ProviderTarget): Promise<ProviderSyncResult> {
    if (target.kind !== 'marketplace')
      throw new ProviderError(
        'marketplace',
        'provider_not_configured',
        `invoice ${invoice.invoice_id} targets provider ${target.kind}, not a marketplace`,
      );
    const externalInvoiceId = marketplaceBilledInvoiceId(invoice.invoice_id);
    let record: ProviderSyncResult;
    try {
      record = await insertSyncRecord(this.options.pool, {
        provider: 'marketplace',
        invoice_id: invoice.invoice_id,
        external_customer_id: `${target.marketplace}:${target.customer}`,
        external_invoice_id: externalInvoiceId,
        status: 'billed_by_marketplace',
        items: {},
      });
    } catch (error) {
      throw storageError('marketplace', error);
    }
    if (record.external_invoice_id !== externalInvoiceId)
      throw new ProviderError(
        'marketplace',
        'provider_invoice_conflict',
        `invoice ${invoice.invoice_id} has sync record ${record.external_invoice_id}, not ${externalInvoiceId}`,
      );
    return record;
  }
}
