-- One strict period type in SQL too (issue 12): a billing period is YYYY-MM in the years Tally
-- bills, 2000–2199 (contracts/period-name.ts; docs/decisions/bad-input.md). The earlier checks
-- took any four digits, so 0026-10 could be stored as a period. Added NOT VALID where the table
-- allows it: every new or changed row is checked at once, rows already stored are not rescanned
-- (a database that holds such a row keeps it visible for a person; `VALIDATE CONSTRAINT` finds it).
CREATE FUNCTION tally_period_in_range(period text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN period ~ '^2[01][0-9]{2}-(0[1-9]|1[0-2])$';

ALTER TABLE credit_movements ADD CONSTRAINT credit_movements_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE customer_periods ADD CONSTRAINT customer_periods_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE invoices ADD CONSTRAINT invoices_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_posting_period_in_range CHECK (posting_period IS NULL OR tally_period_in_range(posting_period)) NOT VALID;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_service_period_in_range CHECK (service_period IS NULL OR tally_period_in_range(service_period)) NOT VALID;
ALTER TABLE notifications ADD CONSTRAINT notifications_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE period_closures ADD CONSTRAINT period_closures_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE period_snapshots ADD CONSTRAINT period_snapshots_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE provider_ledger_invoices ADD CONSTRAINT provider_ledger_invoices_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE review_exceptions ADD CONSTRAINT review_exceptions_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE usage_alert_checks ADD CONSTRAINT usage_alert_checks_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE usage_alerts ADD CONSTRAINT usage_alerts_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE usage_events ADD CONSTRAINT usage_events_period_in_range CHECK (period IS NULL OR tally_period_in_range(period));
ALTER TABLE usage_running_totals ADD CONSTRAINT usage_running_totals_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
