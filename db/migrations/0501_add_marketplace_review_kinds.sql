-- Marketplace metering raises exceptions that belong to no invoice: an over-report to refund, a
-- record at risk of missing its window, a record the marketplace refused or never got. They join
-- the one review queue (`tally review list`), decided like the others through a workflow's `decide`
-- update. A contract billed by a marketplace records its issued invoices as billed there.
INSERT INTO review_exception_kinds (kind, description) VALUES
  ('marketplace_over_report', 'usage reported to a marketplace above what was rated: an amount to refund'),
  ('marketplace_window_at_risk', 'an unsent marketplace record has used half of its reporting window'),
  ('marketplace_report_failed', 'a marketplace refused a usage record, or it expired unsent')
ON CONFLICT (kind) DO NOTHING;

ALTER TABLE provider_sync_records DROP CONSTRAINT provider_sync_records_provider_check;
ALTER TABLE provider_sync_records ADD CONSTRAINT provider_sync_records_provider_check
  CHECK (provider IN ('ledger', 'stripe', 'marketplace'));
