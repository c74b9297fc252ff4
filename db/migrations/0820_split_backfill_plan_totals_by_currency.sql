-- A backfill plan's totals per currency (docs/decisions/backfill.md "Totals per currency"): a plan
-- over customers billed in USD and in EUR has a USD and a EUR issued, re-rated and adjustment total,
-- never one number adding dollars to euros. Each column is an object, currency code → decimal
-- string (`{"EUR": "30.00", "USD": "100.00"}`; `{}` for a plan with no customer-period).
--
-- The single-number columns are dropped: each was the sum of the plan's items, which stay as they
-- were (with their currency), so the per-currency totals of every stored plan are computed from
-- them here and nothing recorded is lost. Plans are append-only; the owner lifts the trigger for
-- this one statement (the application role cannot: it owns nothing, db/application-role.ts).
ALTER TABLE backfill_plans
  ADD COLUMN issued_totals jsonb,
  ADD COLUMN rerated_totals jsonb,
  ADD COLUMN adjustment_totals jsonb;

ALTER TABLE backfill_plans DISABLE TRIGGER backfill_plans_append_only;
UPDATE backfill_plans p
   SET issued_totals = coalesce(t.issued, '{}'),
       rerated_totals = coalesce(t.rerated, '{}'),
       adjustment_totals = coalesce(t.adjustment, '{}')
  FROM backfill_plans q
  LEFT JOIN (
    SELECT plan_id,
           jsonb_object_agg(currency, issued::text) AS issued,
           jsonb_object_agg(currency, rerated::text) AS rerated,
           jsonb_object_agg(currency, adjustment::text) AS adjustment
      FROM (SELECT plan_id, currency, sum(issued_total) AS issued, sum(rerated_total) AS rerated,
                   sum(adjustment_total) AS adjustment
              FROM backfill_plan_items GROUP BY plan_id, currency) per_currency
     GROUP BY plan_id
  ) t ON t.plan_id = q.plan_id
 WHERE q.plan_id = p.plan_id;
ALTER TABLE backfill_plans ENABLE TRIGGER backfill_plans_append_only;

ALTER TABLE backfill_plans
  ALTER COLUMN issued_totals SET NOT NULL,
  ALTER COLUMN rerated_totals SET NOT NULL,
  ALTER COLUMN adjustment_totals SET NOT NULL,
  ADD CONSTRAINT backfill_plans_totals_per_currency CHECK (
    jsonb_typeof(issued_totals) = 'object' AND jsonb_typeof(rerated_totals) = 'object'
    AND jsonb_typeof(adjustment_totals) = 'object'),
  DROP COLUMN issued_total,
  DROP COLUMN rerated_total,
  DROP COLUMN adjustment_total;
