-- Usage alerts: month-to-date usage charges against the commit or the prepaid balance, at 50, 75, 90
-- and 100 %, one row per (customer, period, basis, threshold) for good, written in the same
-- transaction as its notification (the outbox the webhook is delivered from).
CREATE TABLE usage_alerts (
  customer_id      text        NOT NULL,
  period           text        NOT NULL CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  basis            text        NOT NULL CHECK (basis IN ('commit', 'prepaid')),
  threshold_pct    smallint    NOT NULL CHECK (threshold_pct IN (50, 75, 90, 100)),
  -- Usage lines plus discounts valued from the running totals when the threshold was seen reached.
  usage_value      numeric     NOT NULL,
  -- The commit (prorated as the invoice prorates it) or the prepaid balance at period start.
  reference_amount numeric     NOT NULL CHECK (reference_amount > 0),
  currency         text        NOT NULL,
  -- 'estimate' when the running totals could not be rated exactly (docs/decisions/usage-alerts.md).
  valuation        text        NOT NULL CHECK (valuation IN ('exact', 'estimate')),
  -- Σ event_count of the customer-period's running totals the valuation read.
  event_count      bigint      NOT NULL,
  notification_key text        NOT NULL UNIQUE REFERENCES notifications (notification_key),
  crossed_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, period, basis, threshold_pct),
  CONSTRAINT usage_alert_reached CHECK (usage_value * 100 >= reference_amount * threshold_pct)
);

-- An alert is a fact about what was seen: never changed or removed (refuse_history_change: migration 0001).
CREATE TRIGGER usage_alerts_append_only BEFORE UPDATE OR DELETE ON usage_alerts
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER usage_alerts_no_truncate BEFORE TRUNCATE ON usage_alerts
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();

-- The per customer-period watermark of the alert check: the running totals' event count it valued.
-- Totals only grow, so a customer-period needs a check exactly when its Σ event_count differs.
CREATE TABLE usage_alert_checks (
  customer_id         text        NOT NULL,
  period              text        NOT NULL CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  checked_event_count bigint      NOT NULL CHECK (checked_event_count >= 0),
  -- The latest running-total change the check saw (max updated_at).
  checked_through     timestamptz NOT NULL,
  -- What the check found; NULL when it was skipped (skipped_reason says why, e.g. no contract).
  usage_value         numeric,
  currency            text,
  valuation           text CHECK (valuation IN ('exact', 'estimate')),
  skipped_reason      text,
  checked_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, period),
  CHECK ((skipped_reason IS NULL) = (usage_value IS NOT NULL AND currency IS NOT NULL AND valuation IS NOT NULL))
);

-- The alert loop looks for totals changed since its last pass.
CREATE INDEX usage_running_totals_updated_idx ON usage_running_totals (updated_at);
