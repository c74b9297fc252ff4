-- The customer-period workflow's facts: snapshots of the event set, invoices (draft → issued,
-- immutable once issued), review exceptions and decisions, late-usage adjustments, notifications.

-- Step 1: the exact event set a period's invoice is computed from.
CREATE TABLE period_snapshots (
  snapshot_id         text PRIMARY KEY,
  customer_id         text NOT NULL,
  period              text NOT NULL CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  mode                text NOT NULL CHECK (mode IN ('live', 'shadow')),
  calculation_version text NOT NULL,
  event_cutoff        timestamptz NOT NULL,
  event_count         bigint NOT NULL,
  -- sha256 over the sorted (source, event_id, body hash) of every event in the set.
  event_fingerprint   text NOT NULL,
  -- The rating input: UsageAggregate[] and counters (small: one row per price-relevant group).
  aggregates          jsonb NOT NULL,
  counters            jsonb NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE invoices (
  invoice_id          text PRIMARY KEY,
  customer_id         text NOT NULL,
  period              text NOT NULL,
  mode                text NOT NULL CHECK (mode IN ('live', 'shadow')),
  calculation_version text NOT NULL,
  snapshot_id         text NOT NULL REFERENCES period_snapshots (snapshot_id),
  status              text NOT NULL CHECK (status IN ('draft', 'held', 'issued')),
  currency            text NOT NULL,
  subtotal            numeric NOT NULL,
  total               numeric NOT NULL,
  -- The SPEC §4 invoice document (lines with tier breakdowns, rate-card versions and hashes).
  document            jsonb NOT NULL,
  invoice_number      text,
  issued_at           timestamptz,
  held_reason         text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'issued') = (invoice_number IS NOT NULL AND issued_at IS NOT NULL))
);
-- One live invoice per customer and period; recalculations adjust, they never issue a second one.
CREATE UNIQUE INDEX invoices_one_live_per_period ON invoices (customer_id, period) WHERE mode = 'live';
CREATE UNIQUE INDEX invoices_number ON invoices (invoice_number) WHERE invoice_number IS NOT NULL;
CREATE INDEX invoices_customer_issued ON invoices (customer_id, issued_at) WHERE status = 'issued';

-- An issued invoice is immutable: no update may touch it, and it is never deleted.
CREATE FUNCTION refuse_issued_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status = 'issued' THEN
      RAISE EXCEPTION 'invoice % is issued and cannot be deleted', OLD.invoice_id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.status = 'issued' THEN
    RAISE EXCEPTION 'invoice % is issued and immutable; late usage becomes an adjustment on a later invoice', OLD.invoice_id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF OLD.status = 'held' AND NEW.status <> 'held' THEN
    RAISE EXCEPTION 'invoice % was rejected in review and stays held', OLD.invoice_id USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER invoices_immutable_once_issued BEFORE UPDATE OR DELETE ON invoices
  FOR EACH ROW EXECUTE FUNCTION refuse_issued_invoice_change();

-- Invoice numbers are gapless per customer: <customer>-<0001>.
CREATE TABLE invoice_number_counters (
  customer_id text PRIMARY KEY,
  last_number integer NOT NULL
);

-- Step 4: what billing ops decide on, with everything they need to decide.
CREATE TABLE review_exceptions (
  exception_id  text PRIMARY KEY,
  invoice_id    text NOT NULL REFERENCES invoices (invoice_id),
  customer_id   text NOT NULL,
  period        text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('threshold', 'provider_sync_failed')),
  breaches      jsonb NOT NULL,
  -- usage by price, contract terms, draft invoice, previous invoices, prior decisions.
  context       jsonb NOT NULL,
  workflow_id   text NOT NULL,
  status        text NOT NULL CHECK (status IN ('open', 'escalated', 'approved', 'rejected', 'adjusted')),
  opened_at     timestamptz NOT NULL DEFAULT now(),
  escalated_at  timestamptz,
  decided_at    timestamptz,
  reviewer      text,
  decision      jsonb
);
CREATE INDEX review_exceptions_waiting ON review_exceptions (opened_at) WHERE status IN ('open', 'escalated');

-- Late usage: each late event is adjusted exactly once, on one later invoice.
CREATE TABLE late_event_adjustments (
  source               text NOT NULL,
  event_id             text NOT NULL,
  corrected_invoice_id text NOT NULL REFERENCES invoices (invoice_id),
  adjusting_invoice_id text NOT NULL REFERENCES invoices (invoice_id),
  PRIMARY KEY (source, event_id)
);
CREATE INDEX late_event_adjustments_adjusting ON late_event_adjustments (adjusting_invoice_id);

-- Outgoing notifications (review escalations, usage alerts), delivered to a webhook with retries.
CREATE TABLE notifications (
  notification_key text PRIMARY KEY,
  kind             text NOT NULL,
  customer_id      text NOT NULL,
  period           text NOT NULL,
  payload          jsonb NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  attempts         integer NOT NULL DEFAULT 0,
  last_error       text
);
CREATE INDEX notifications_undelivered ON notifications (created_at) WHERE delivered_at IS NULL;
