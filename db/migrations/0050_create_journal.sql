-- The general ledger of the revenue journal: append-only, every entry balanced, keyed so that a
-- rerun never double-posts (docs/decisions/journal.md). Entries come from domain/journal.

-- The chart of accounts; the same codes as CHART_OF_ACCOUNTS in domain/journal/chart-of-accounts.ts
-- (a test keeps the two equal).
CREATE TABLE ledger_accounts (
  code text PRIMARY KEY,
  number text NOT NULL UNIQUE,
  name text NOT NULL,
  type text NOT NULL CHECK (type IN ('asset', 'liability', 'revenue', 'contra_revenue')),
  normal_balance text NOT NULL CHECK (normal_balance IN ('debit', 'credit'))
);

INSERT INTO ledger_accounts (code, number, name, type, normal_balance) VALUES
  ('accounts_receivable', '1100', 'Accounts receivable', 'asset', 'debit'),
  ('unbilled_receivables', '1150', 'Unbilled AR / contract asset', 'asset', 'debit'),
  ('contract_liability_prepaid_credits', '2300', 'Contract liability – prepaid credits', 'liability', 'credit'),
  ('deferred_revenue_subscriptions', '2400', 'Deferred revenue – subscriptions', 'liability', 'credit'),
  ('usage_revenue', '4000', 'Usage revenue', 'revenue', 'credit'),
  ('subscription_revenue', '4100', 'Subscription revenue', 'revenue', 'credit'),
  ('commitment_revenue', '4200', 'Commitment revenue', 'revenue', 'credit'),
  ('breakage_revenue', '4300', 'Revenue – breakage', 'revenue', 'credit'),
  ('contra_revenue_discounts', '4900', 'Contra-revenue – discounts', 'contra_revenue', 'debit'),
  ('contra_revenue_promotional_credits', '4910', 'Contra-revenue – promotional credits', 'contra_revenue', 'debit'),
  ('contra_revenue_prepaid_bonus', '4920', 'Contra-revenue – prepaid credit bonus', 'contra_revenue', 'debit');

CREATE TABLE journal_entries (
  -- <source kind>:<source id>:<entry type>:<calculation version>
  entry_key text PRIMARY KEY,
  entry_type text NOT NULL CHECK (entry_type IN (
    'usage_rated', 'discount_applied', 'commit_recognized', 'commit_shortfall_breakage', 'promotional_credit_applied',
    'prepaid_credit_consumed', 'adjustment_posted', 'invoice_issued', 'subscription_recognized',
    'prepaid_credit_purchased', 'prepaid_credit_expired')),
  customer_id text NOT NULL,
  -- null for entries that come from a credit grant rather than an invoice
  invoice_id text,
  currency char(3) NOT NULL,
  -- the period the revenue belongs to (the original period for late usage) ...
  service_period text NOT NULL CHECK (service_period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  -- ... and the period the entry is booked in; a closed period is never posted into after the fact
  posting_period text NOT NULL CHECK (posting_period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  calculation_version text NOT NULL,
  posted_at timestamptz NOT NULL DEFAULT now(),
  memo text NOT NULL,
  -- the number of lines the entry was posted with: lines added later are refused
  line_count integer NOT NULL CHECK (line_count >= 2)
);

CREATE INDEX journal_entries_invoice ON journal_entries (invoice_id) WHERE invoice_id IS NOT NULL;
CREATE INDEX journal_entries_customer_service_period ON journal_entries (customer_id, service_period);
CREATE INDEX journal_entries_posting_period ON journal_entries (posting_period);

CREATE TABLE journal_lines (
  entry_key text NOT NULL REFERENCES journal_entries (entry_key),
  line_no integer NOT NULL CHECK (line_no >= 1),
  account text NOT NULL REFERENCES ledger_accounts (code),
  debit numeric NOT NULL CHECK (debit >= 0),
  credit numeric NOT NULL CHECK (credit >= 0),
  -- the invoice line (line_key) the posting comes from; null for aggregate postings
  source_line_key text,
  PRIMARY KEY (entry_key, line_no),
  -- exactly one side carries the amount
  CHECK ((debit > 0) <> (credit > 0))
);

CREATE INDEX journal_lines_account ON journal_lines (account);

-- Each entry balances and has exactly the lines it was posted with. Checked at commit (deferred),
-- because an entry's lines are inserted one statement after the entry itself.
CREATE FUNCTION journal_assert_entry_balanced(key text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  expected_lines integer;
  actual_lines integer;
  total_debit numeric;
  total_credit numeric;
BEGIN
  SELECT line_count INTO expected_lines FROM journal_entries WHERE entry_key = key;
  SELECT count(*), coalesce(sum(debit), 0), coalesce(sum(credit), 0)
    INTO actual_lines, total_debit, total_credit
    FROM journal_lines WHERE entry_key = key;
  IF expected_lines IS DISTINCT FROM actual_lines THEN
    RAISE EXCEPTION 'journal entry % has % lines, posted with %', key, actual_lines, expected_lines
      USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entry_line_count';
  END IF;
  IF total_debit <> total_credit THEN
    RAISE EXCEPTION 'journal entry % does not balance: debits % ≠ credits %', key, total_debit, total_credit
      USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entry_balanced';
  END IF;
END;
$$;

CREATE FUNCTION journal_check_entry_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM journal_assert_entry_balanced(NEW.entry_key);
  RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER journal_entries_balanced
  AFTER INSERT ON journal_entries DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION journal_check_entry_trigger();

CREATE CONSTRAINT TRIGGER journal_lines_balanced
  AFTER INSERT ON journal_lines DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION journal_check_entry_trigger();

-- Append-only: a posted entry is corrected by a new entry, never edited or removed.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege', HINT = 'post a correcting entry instead';
END;
$$;

CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER journal_lines_no_truncate BEFORE TRUNCATE ON journal_lines
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_accounts_append_only BEFORE UPDATE OR DELETE ON ledger_accounts
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
