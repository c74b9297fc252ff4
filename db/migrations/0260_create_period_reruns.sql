-- Re-runs of held periods (SPEC §5 "Held periods", docs/decisions/backfill.md): `tally period rerun`
-- re-rates a period whose review rejected as a new draft (`inv:<customer>:<period>:r<n>`) that goes
-- through review again. The held draft is kept, voided, for the audit trail; it never had a number
-- (numbers are given at issue), and the new draft gets the customer's next one when it is issued.

-- `voided`: a held draft replaced by a re-run. Kept for the audit trail, never live again.
ALTER TABLE invoices DROP CONSTRAINT invoices_status_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_status_check
  CHECK (status IN ('draft', 'held', 'issued', 'skipped', 'voided'));
ALTER TABLE invoices ADD COLUMN voided_at timestamptz;

-- One live invoice per customer and period, voided drafts aside: a re-run's draft replaces the held one.
DROP INDEX invoices_one_live_per_period;
CREATE UNIQUE INDEX invoices_one_live_per_period ON invoices (customer_id, period) WHERE mode = 'live' AND status <> 'voided';

-- Issued and skipped invoices stay immutable; a held one may only be voided (by a re-run); a voided one never changes.
CREATE OR REPLACE FUNCTION refuse_issued_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status IN ('issued', 'skipped', 'voided') THEN
      RAISE EXCEPTION 'invoice % is % and cannot be deleted', OLD.invoice_id, OLD.status USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.status IN ('issued', 'skipped') THEN
    RAISE EXCEPTION 'invoice % is % and immutable; late usage becomes an adjustment on a later invoice', OLD.invoice_id, OLD.status
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF OLD.status = 'held' AND NEW.status NOT IN ('held', 'voided') THEN
    RAISE EXCEPTION 'invoice % was rejected in review and stays held until a re-run voids it', OLD.invoice_id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF OLD.status = 'voided' THEN
    RAISE EXCEPTION 'invoice % was voided by a re-run and is kept as it is', OLD.invoice_id USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;

-- Each re-run of a customer-period, numbered from 1: who asked, why, which held draft it voided
-- (none when the period was held before it had a draft) and the draft it rates.
CREATE TABLE period_reruns (
  customer_id      text NOT NULL,
  period           text NOT NULL CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  rerun_number     integer NOT NULL CHECK (rerun_number >= 1),
  workflow_id      text NOT NULL,
  voided_invoice_id text UNIQUE REFERENCES invoices (invoice_id),
  rerun_invoice_id text NOT NULL UNIQUE,
  reason           text NOT NULL CHECK (btrim(reason) <> ''),
  requested_by     text NOT NULL,
  requested_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, period, rerun_number)
);

-- The late events of a held period a re-run's snapshot took in (they arrived after the period closed
-- and no invoice billed them): recorded before the snapshot reads the events, so the snapshot rates
-- exactly these, and the re-run's draft claims exactly these as its own (late_event_adjustments with
-- corrected = adjusting = the re-run's invoice) so no later invoice bills them again.
CREATE TABLE period_rerun_late_events (
  snapshot_id text NOT NULL,
  source      text NOT NULL,
  event_id    text NOT NULL,
  PRIMARY KEY (snapshot_id, source, event_id)
);
