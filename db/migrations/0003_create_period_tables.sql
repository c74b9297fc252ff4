-- What the billing workflow reads beside usage_events; all written in the ingest transaction except
-- period_closures, which the workflow writes when it snapshots a period.

-- Month-to-date usage by event-time period, for usage alerts without scanning events. Includes late events.
CREATE TABLE usage_running_totals (
  customer_id  text        NOT NULL,
  period       text        NOT NULL CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  sku          text        NOT NULL,
  unit         text        NOT NULL,
  event_count  bigint      NOT NULL,
  quantity_sum numeric     NOT NULL,
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (customer_id, period, sku, unit)
) WITH (fillfactor = 70); -- room on each page for HOT updates: every ingest batch updates these rows in place

-- The outbox of period workflows: a row appears, in the same transaction as the first stored event of
-- a customer-period; the billing worker's relay starts the workflow and sets workflow_started_at.
CREATE TABLE customer_periods (
  customer_id         text        NOT NULL,
  period              text        NOT NULL CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  -- Earliest event time and receipt time in the batch that created the row (not updated later).
  first_event_at      timestamptz NOT NULL,
  first_received_at   timestamptz NOT NULL,
  workflow_started_at timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, period)
);
CREATE INDEX customer_periods_unstarted_idx ON customer_periods (created_at) WHERE workflow_started_at IS NULL;

-- Written by the billing workflow when it snapshots a period: events of the period received after
-- event_cutoff are not in its invoice; the ingest worker marks those it stores afterwards late.
CREATE TABLE period_closures (
  customer_id  text        NOT NULL,
  period       text        NOT NULL CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  event_cutoff timestamptz NOT NULL,
  closed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, period)
);
