-- The period rule of migration 0150 (years 2000–2199, docs/decisions/bad-input.md) on the period
-- columns of the tables created after it: backfills (0250), shadow billing (0350) and marketplace
-- metering (0500). Numbered after them so that a new database has the tables first; NOT VALID as in
-- 0150 (new and changed rows are checked, stored rows are not rescanned).
ALTER TABLE backfill_adjustments ADD CONSTRAINT backfill_adjustments_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE backfill_item_results ADD CONSTRAINT backfill_item_results_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE backfill_plan_items ADD CONSTRAINT backfill_plan_items_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE marketplace_buckets ADD CONSTRAINT marketplace_buckets_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE shadow_legacy_imports ADD CONSTRAINT shadow_legacy_imports_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
ALTER TABLE shadow_runs ADD CONSTRAINT shadow_runs_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
