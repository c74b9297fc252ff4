-- The period rule of migration 0150 (years 2000–2199, docs/decisions/bad-input.md) on the period
-- columns of the tables added since 0700: a held period's re-runs (0260, which checked only the
-- YYYY-MM shape) and daily revenue recognition's days (0400). NOT VALID as in 0150 (new and changed
-- rows are checked, stored rows are not rescanned).
ALTER TABLE period_reruns ADD CONSTRAINT period_reruns_period_in_range CHECK (tally_period_in_range(period)) NOT VALID;
ALTER TABLE revenue_recognition_days ADD CONSTRAINT revenue_recognition_days_period_in_range CHECK (period IS NULL OR tally_period_in_range(period)) NOT VALID;
