-- The credit ledger: grants from contracts and the movements that draw them down. A grant's
-- balance is the sum of its movements, kept in credit_grants.remaining by the movement trigger
-- and never negative; movements are append-only and keyed so that a retry never draws twice.

CREATE TABLE credit_grants (
  customer_id text NOT NULL,
  credit_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('promotional', 'prepaid')),
  currency char(3) NOT NULL,
  amount numeric NOT NULL CHECK (amount > 0),
  -- prepaid only: what the customer paid (null = face value); sets the effective price per credit
  consideration_paid numeric,
  granted_at timestamptz NOT NULL,
  expires_at timestamptz,
  -- Σ movements of the grant; written only by credit_movements_apply
  remaining numeric NOT NULL DEFAULT 0,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, credit_id),
  CONSTRAINT credit_balance_never_negative CHECK (remaining >= 0),
  CONSTRAINT credit_balance_within_grant CHECK (remaining <= amount),
  CONSTRAINT credit_expiry_after_grant CHECK (expires_at IS NULL OR expires_at > granted_at),
  CONSTRAINT credit_consideration_prepaid_only CHECK (consideration_paid IS NULL OR (kind = 'prepaid' AND consideration_paid >= 0 AND consideration_paid <= amount))
);

-- Usable-in-period lookups go by customer and grant instant.
CREATE INDEX credit_grants_customer_granted ON credit_grants (customer_id, granted_at);
CREATE INDEX credit_grants_expiring ON credit_grants (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE credit_movements (
  movement_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id text NOT NULL,
  credit_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('grant', 'consumption', 'expiry')),
  -- the grant's currency, restated so a draw in another currency is refused
  currency char(3) NOT NULL,
  -- signed: a grant adds, a consumption and an expiry take away
  amount numeric NOT NULL,
  -- consumption only: the issued invoice that drew, its period, and its credit line
  invoice_id text,
  period text CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  line_key text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (customer_id, credit_id) REFERENCES credit_grants (customer_id, credit_id),
  CONSTRAINT credit_movement_consumption_fields CHECK ((kind = 'consumption') = (invoice_id IS NOT NULL AND period IS NOT NULL)),
  CONSTRAINT credit_movement_sign CHECK (
    (kind = 'grant' AND amount > 0) OR (kind = 'consumption' AND amount < 0) OR (kind = 'expiry' AND amount <= 0)),
  -- one grant and one expiry per credit; one consumption per (invoice, credit)
  CONSTRAINT credit_movement_once UNIQUE NULLS NOT DISTINCT (customer_id, credit_id, kind, invoice_id)
);

CREATE INDEX credit_movements_consumption_period ON credit_movements (customer_id, credit_id, period) WHERE kind = 'consumption';

-- Applies a movement to its grant's balance under the grant's row lock, after checking it: the
-- currency is the grant's; the grant movement is the face value; a consumption needs the credit
-- usable in its period (SPEC §2 rule 10) and not expired; an expiry takes exactly what is left.
-- The balance check (credit_balance_never_negative) then refuses any overdraw, concurrent ones included.
CREATE FUNCTION credit_movements_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  grant_row credit_grants%ROWTYPE;
  period_end timestamptz;
BEGIN
  SELECT * INTO grant_row FROM credit_grants
    WHERE customer_id = NEW.customer_id AND credit_id = NEW.credit_id FOR UPDATE;
  IF NEW.currency <> grant_row.currency THEN
    RAISE EXCEPTION 'credit %/% is in %, the movement in %', NEW.customer_id, NEW.credit_id, grant_row.currency, NEW.currency
      USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_movement_currency';
  END IF;
  IF NEW.kind = 'grant' THEN
    IF NEW.amount <> grant_row.amount THEN
      RAISE EXCEPTION 'credit %/%: the grant movement % is not the amount granted %', NEW.customer_id, NEW.credit_id, NEW.amount, grant_row.amount
        USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_grant_movement_amount';
    END IF;
  ELSIF NEW.kind = 'consumption' THEN
    period_end := (to_date(NEW.period || '-01', 'YYYY-MM-DD') + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    IF NOT (grant_row.granted_at < period_end AND (grant_row.expires_at IS NULL OR grant_row.expires_at >= period_end)) THEN
      RAISE EXCEPTION 'credit %/% is not usable in % (granted %, expires %)', NEW.customer_id, NEW.credit_id, NEW.period, grant_row.granted_at, grant_row.expires_at
        USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_usable_in_period';
    END IF;
    IF EXISTS (SELECT 1 FROM credit_movements WHERE customer_id = NEW.customer_id AND credit_id = NEW.credit_id AND kind = 'expiry') THEN
      RAISE EXCEPTION 'credit %/% has expired', NEW.customer_id, NEW.credit_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_not_expired';
    END IF;
  ELSIF NEW.kind = 'expiry' THEN
    IF grant_row.expires_at IS NULL OR NEW.amount <> -grant_row.remaining THEN
      RAISE EXCEPTION 'credit %/%: an expiry takes the whole remaining balance % of an expiring credit, not %', NEW.customer_id, NEW.credit_id, grant_row.remaining, -NEW.amount
        USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_expiry_amount';
    END IF;
  END IF;
  UPDATE credit_grants SET remaining = remaining + NEW.amount
    WHERE customer_id = NEW.customer_id AND credit_id = NEW.credit_id;
  RETURN NULL;
END;
$$;

-- AFTER, not BEFORE: a movement that ON CONFLICT DO NOTHING skips must not touch the balance.
CREATE TRIGGER credit_movements_apply AFTER INSERT ON credit_movements
  FOR EACH ROW EXECUTE FUNCTION credit_movements_apply();

CREATE TRIGGER credit_movements_append_only BEFORE UPDATE OR DELETE ON credit_movements
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER credit_movements_no_truncate BEFORE TRUNCATE ON credit_movements
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- A grant's terms never change, and its balance moves only through a movement.
CREATE FUNCTION credit_grants_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.remaining <> 0 THEN
      RAISE EXCEPTION 'credit_grants: a grant starts at a zero balance; its grant movement adds the amount'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'credit_grant_starts_empty';
    END IF;
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1
     AND (NEW.customer_id, NEW.credit_id, NEW.kind, NEW.currency, NEW.amount, NEW.consideration_paid, NEW.granted_at, NEW.expires_at, NEW.recorded_at)
         IS NOT DISTINCT FROM (OLD.customer_id, OLD.credit_id, OLD.kind, OLD.currency, OLD.amount, OLD.consideration_paid, OLD.granted_at, OLD.expires_at, OLD.recorded_at) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'credit_grants: % refused; grants are fixed and balances move only by credit_movements', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER credit_grants_guard BEFORE INSERT OR UPDATE OR DELETE ON credit_grants
  FOR EACH ROW EXECUTE FUNCTION credit_grants_guard();
CREATE TRIGGER credit_grants_no_truncate BEFORE TRUNCATE ON credit_grants
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
