-- Month-end accrual (SPEC §11; docs/decisions/journal.md): a customer-period not yet invoiced at
-- month end accrues usage rated through period end (revenue_accrued, dated its last day), reversed
-- on the first day of the next period (accrual_reversed); usage stored after the accrual trues it
-- up (accrual_trued_up, with its own reversal). The customer-period row records the accrual and
-- the period its reversal books in: the invoice then posts its entries there, against it.

ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_entry_type_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_entry_type_check CHECK (entry_type IN (
  'usage_rated', 'discount_applied', 'commit_recognized', 'commit_shortfall_breakage', 'promotional_credit_applied',
  'prepaid_credit_consumed', 'adjustment_posted', 'invoice_issued', 'subscription_recognized',
  'prepaid_credit_purchased', 'prepaid_credit_expired', 'revenue_recognized', 'recognition_settled',
  'revenue_accrued', 'accrual_trued_up', 'accrual_reversed'));

ALTER TABLE revenue_recognition_periods
  ADD COLUMN accrued_at timestamptz,
  -- the accrual entry (null when usage through period end equalled what the days had recognized)
  ADD COLUMN accrual_entry_key text,
  -- the accounting period the accrual's reversal books in (the next period, or the first open one after it)
  ADD COLUMN accrual_reversal_period text
    CONSTRAINT revenue_recognition_periods_accrual_reversal_period_in_range
    CHECK (accrual_reversal_period IS NULL OR tally_period_in_range(accrual_reversal_period)),
  ADD CONSTRAINT revenue_recognition_periods_accrual_complete
    CHECK ((accrued_at IS NULL) = (accrual_reversal_period IS NULL));
