-- Revenue recognition beyond the invoice (SPEC §11; docs/decisions/journal.md): daily recognition
-- entries and their settlement at invoice join the journal's entry types; one row per customer and
-- day recognized, one per customer-period (its lock and its settlement); accounting period locks.

ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_entry_type_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_entry_type_check CHECK (entry_type IN (
  'usage_rated', 'discount_applied', 'commit_recognized', 'commit_shortfall_breakage', 'promotional_credit_applied',
  'prepaid_credit_consumed', 'adjustment_posted', 'invoice_issued', 'subscription_recognized',
  'prepaid_credit_purchased', 'prepaid_credit_expired', 'revenue_recognized', 'recognition_settled'));

-- One row per customer-period that daily recognition or its invoice has touched. Recognizing a day
-- and settling at invoice lock this row first, so the two never interleave; once settled, the
-- period recognizes nothing more by day (its invoice's entries stand).
CREATE TABLE revenue_recognition_periods (
  customer_id text NOT NULL,
  period text NOT NULL CHECK (tally_period_in_range(period)),
  currency char(3),
  -- the latest day recognized; a day at or before it is never recognized again
  last_day date,
  settled_by_invoice_id text,
  settled_at timestamptz,
  -- the settlement entry (no foreign key: the journal refuses TRUNCATE with its own message)
  settlement_entry_key text,
  PRIMARY KEY (customer_id, period),
  CHECK ((settled_by_invoice_id IS NULL) = (settled_at IS NULL))
);

-- One row per customer and day recognized, with or without an entry (a day with nothing new posts
-- nothing but is still done): the idempotency key of daily recognition.
CREATE TABLE revenue_recognition_days (
  customer_id text NOT NULL,
  day date NOT NULL,
  period text NOT NULL,
  entry_key text,
  recognized_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, day),
  FOREIGN KEY (customer_id, period) REFERENCES revenue_recognition_periods (customer_id, period),
  CHECK (to_char(day, 'YYYY-MM') = period)
);

-- A locked accounting period takes no postings (SPEC §11): entries dated into it post to the first
-- open period after it, their service period still naming it. Locks are never lifted (append-only).
CREATE TABLE accounting_period_locks (
  period text PRIMARY KEY CHECK (tally_period_in_range(period)),
  locked_at timestamptz NOT NULL DEFAULT now(),
  locked_by text NOT NULL,
  reason text NOT NULL DEFAULT ''
);

CREATE TRIGGER accounting_period_locks_append_only BEFORE UPDATE OR DELETE ON accounting_period_locks
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- The database refuses an entry booked into a locked period, whoever inserts it. A repost of an
-- entry already in the ledger passes (the insert is then a no-op on its key), so retries stay no-ops.
CREATE FUNCTION journal_refuse_locked_period() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM accounting_period_locks WHERE period = NEW.posting_period)
     AND NOT EXISTS (SELECT 1 FROM journal_entries WHERE entry_key = NEW.entry_key) THEN
    RAISE EXCEPTION 'accounting period % is locked: journal entry % refused', NEW.posting_period, NEW.entry_key
      USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entry_period_locked',
            HINT = 'post it in the open period, pointing at the locked one';
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER journal_entries_refuse_locked_period BEFORE INSERT ON journal_entries
  FOR EACH ROW EXECUTE FUNCTION journal_refuse_locked_period();
