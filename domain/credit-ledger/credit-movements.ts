import type { IssuedInvoice } from '../../contracts/invoice.ts';
import { Decimal, formatMoney, roundMoneyHalfUp } from '../money.ts';
import { CreditLedgerError, type CreditKind } from './credit-grant.ts';

/**
 * One draw on a credit by an issued invoice: the ledger's `consumption` movement. `amount` is the
 * signed ledger movement (negative: it lowers the balance); `remaining = Σ movements`.
 * Keyed by (customer_id, credit_id, invoice_id): recording it again is a no-op.
 */
export interface CreditConsumption {
  readonly customer_id: string;
  readonly credit_id: string;
  readonly credit_kind: CreditKind;
  readonly invoice_id: string;
  /** The invoice's currency: the ledger refuses a draw in another currency than the grant's. */
  readonly currency: string;
  /** The invoice's period: the ledger checks the credit was usable in it (SPEC §2 rule 10). */
  readonly period: string;
  readonly amount: string;
  /** The invoice line the draw comes from. */
  readonly line_key: string;
}

/**
 * The credit lines of an issued invoice as consumption movements, in line order. Zero-amount
 * credit lines draw nothing and are skipped. A positive credit line, or two lines drawing on the
 * same credit, is an invoice the ledger cannot represent: refused with the line key.
 *
 * Worked example: a line `{ kind: 'credit', credit_id: 'promo-q4', amount: '-50.00' }` on invoice
 * `inv-1` for 2026-10 → `{ credit_id: 'promo-q4', invoice_id: 'inv-1', currency: 'USD', period: '2026-10', amount: '-50.00' }`.
 */
export function creditMovementsFromInvoice(invoice: IssuedInvoice): CreditConsumption[] {
  const seen = new Set<string>();
  const movements: CreditConsumption[] = [];
  for (const line of invoice.lines) {
    if (line.kind !== 'credit') continue;
    const amount = new Decimal(line.amount);
    if (amount.isPositive() && !amount.isZero()) {
      throw new CreditLedgerError(
        'invalid_credit_line',
        `invoice ${invoice.invoice_id} line ${line.line_key}: a credit line draws a credit down, its amount must not be positive (got ${line.amount})`,
      );
    }
    if (!roundMoneyHalfUp(amount, invoice.currency).eq(amount)) {
      throw new CreditLedgerError(
        'invalid_credit_line',
        `invoice ${invoice.invoice_id} line ${line.line_key}: ${line.amount} is not a whole number of ${invoice.currency} minor units`,
      );
    }
    if (seen.has(line.credit_id)) {
      throw new CreditLedgerError(
        'invalid_credit_line',
        `invoice ${invoice.invoice_id} line ${line.line_key}: credit ${line.credit_id} is drawn by more than one line`,
      );
    }
    seen.add(line.credit_id);
    if (amount.isZero()) continue;
    movements.push({
      customer_id: invoice.customer_id,
      credit_id: line.credit_id,
      credit_kind: line.credit_kind,
      invoice_id: invoice.invoice_id,
      currency: invoice.currency,
      period: invoice.period,
      amount: formatMoney(amount, invoice.currency),
      line_key: line.line_key,
    });
  }
  return movements;
}
