-- Cutover by cohort (SPEC §6, docs/decisions/shadow.md): which biller invoices a customer.
--
-- Every flip of a customer's billing authority (`tally shadow cutover | rollback`), append-only. The
-- customer's authority is its newest flip; with none, the contract's `billing_authority` (default
-- `tally`). The same flip is also in the hash-chained audit log, in the same transaction.
CREATE TABLE billing_authority_flips (
  flip_id     bigserial   PRIMARY KEY,
  customer_id text        NOT NULL,
  authority   text        NOT NULL CHECK (authority IN ('legacy', 'tally')),
  -- What it was before the flip, as the flip saw it.
  previous    text        NOT NULL CHECK (previous IN ('legacy', 'tally')),
  reason      text        NOT NULL CHECK (length(btrim(reason)) > 0),
  operator    text        NOT NULL,
  -- The readiness a cutover was granted on (source, periods, runs); empty for a rollback.
  readiness   jsonb       NOT NULL,
  flipped_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX billing_authority_flips_by_customer ON billing_authority_flips (customer_id, flip_id DESC);

CREATE TRIGGER billing_authority_flips_append_only BEFORE UPDATE OR DELETE ON billing_authority_flips
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER billing_authority_flips_no_truncate BEFORE TRUNCATE ON billing_authority_flips
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();

-- The authority a live close used, decided once per customer-period (a step of the close) and never
-- changed: a flip while the close runs applies to the next period, it never splits this one.
CREATE TABLE period_billing_authorities (
  customer_id  text        NOT NULL,
  period       text        NOT NULL CHECK (tally_period_in_range(period)),
  authority    text        NOT NULL CHECK (authority IN ('legacy', 'tally')),
  -- Where it came from: a recorded flip (flip_id), else the contract's field, else the default.
  decided_from text        NOT NULL CHECK (decided_from IN ('flip', 'contract', 'default')),
  flip_id      bigint      REFERENCES billing_authority_flips (flip_id),
  invoice_id   text        NOT NULL REFERENCES invoices (invoice_id),
  decided_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, period),
  CHECK ((decided_from = 'flip') = (flip_id IS NOT NULL))
);

CREATE TRIGGER period_billing_authorities_append_only BEFORE UPDATE OR DELETE ON period_billing_authorities
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();

-- A live close where the legacy biller has authority stops after rating: its draft ends `legacy`
-- (rated, never numbered, synced or journaled; the legacy biller invoices the period) and the period's
-- outcome is `legacy`, final, so the customer's later periods do not wait for it.
ALTER TABLE invoices DROP CONSTRAINT invoices_status_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_status_check
  CHECK (status IN ('draft', 'held', 'issued', 'skipped', 'voided', 'legacy'));
ALTER TABLE customer_periods DROP CONSTRAINT customer_periods_outcome_check;
ALTER TABLE customer_periods ADD CONSTRAINT customer_periods_outcome_check CHECK (outcome IN ('issued', 'held', 'skipped', 'legacy'));

-- A draft left to the legacy biller is as final as an issued or skipped one (0260's rules otherwise:
-- a held draft may only be voided by a re-run, and a voided one never changes).
CREATE OR REPLACE FUNCTION refuse_issued_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status IN ('issued', 'skipped', 'voided', 'legacy') THEN
      RAISE EXCEPTION 'invoice % is % and cannot be deleted', OLD.invoice_id, OLD.status USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.status IN ('issued', 'skipped', 'legacy') THEN
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
