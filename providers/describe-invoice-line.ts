import type { InvoiceLine } from '../contracts/invoice.ts';
import { assertNever } from '../domain/assert-never.ts';

/**
 * The one-line text a provider shows for an invoice line (a Stripe invoice item's description,
 * the ledger's `description`). Deterministic: the same line always reads the same, so a
 * re-sent request carries the same parameters under its idempotency key.
 */
export function describeInvoiceLine(line: InvoiceLine): string {
  switch (line.kind) {
    case 'usage':
      return `${line.sku} (${line.price_id}): ${line.billable_quantity} ${line.unit}`;
    case 'fee':
      return line.proration === undefined ? line.description : `${line.description} (prorated ${line.proration})`;
    case 'discount':
      return line.description ?? `Discount ${line.price_id}`;
    case 'commit_true_up':
      return 'Minimum commit true-up';
    case 'credit':
      return `${line.credit_kind === 'promotional' ? 'Promotional' : 'Prepaid'} credit ${line.credit_id}`;
    case 'adjustment':
      return `Adjustment to ${line.corrects_period} (invoice ${line.corrects_invoice_id}${line.price_id === undefined ? '' : `, ${line.price_id}`}): ${line.reason}`;
    default:
      return assertNever(line, 'invoice line kind');
  }
}
