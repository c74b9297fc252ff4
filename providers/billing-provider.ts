import type { IssuedInvoice } from '../contracts/invoice.ts';
import type { ProviderKind, ProviderSyncResult, ProviderTarget } from '../contracts/provider-sync.ts';

/**
 * A billing provider: where an issued invoice goes to be collected. Every implementation is
 * idempotent end to end: syncing the same issued invoice again (after a success, a crash or a
 * lost response at any point) returns the same external ids and creates nothing new.
 *
 * Failures are `ProviderError`s with a stable `code` and `retryable`; anything else thrown is a bug.
 */
export interface BillingProvider {
  readonly kind: ProviderKind;
  syncInvoice(invoice: IssuedInvoice, target: ProviderTarget): Promise<ProviderSyncResult>;
}
