-- Customer terms as published facts (SPEC §3), like rate cards (0020): every published version of a
-- customer's contract with its exact text and content hash, who published it, when and why. The
-- workers bill from the latest publication, never from a file on their disk. Append-only.

CREATE TABLE contract_publications (
  publication_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id    text        NOT NULL CHECK (customer_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
  -- sha256 (hex) of the file's bytes; `content` is those bytes as UTF-8 text.
  content_hash   text        NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  content        text        NOT NULL,
  file_name      text        NOT NULL,
  -- Restated from the content when published, for the period opener's SQL (which periods to bill).
  ratecard       text        NOT NULL,
  starts_at      timestamptz,
  ends_at        timestamptz,
  note           text        NOT NULL DEFAULT '',
  published_by   text        NOT NULL,
  published_at   timestamptz NOT NULL DEFAULT now()
);

-- The current contract of a customer is its latest publication.
CREATE INDEX contract_publications_latest ON contract_publications (customer_id, publication_id DESC);

CREATE TRIGGER contract_publications_append_only BEFORE UPDATE OR DELETE ON contract_publications
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER contract_publications_no_truncate BEFORE TRUNCATE ON contract_publications
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();

-- Each customer's contract in force, with the time it was first published (a contract without
-- starts_at is billed from the month of its first publication).
CREATE VIEW current_contracts AS
SELECT DISTINCT ON (customer_id)
       customer_id, publication_id, content_hash, ratecard, starts_at, ends_at, published_at,
       min(published_at) OVER (PARTITION BY customer_id) AS first_published_at
  FROM contract_publications
 ORDER BY customer_id, publication_id DESC;

-- The kinds of exception a person decides. A table rather than a CHECK list, so that each area
-- adds its own kinds in its own migration (INSERT … ON CONFLICT DO NOTHING) without rewriting the others'.
CREATE TABLE review_exception_kinds (
  kind        text PRIMARY KEY CHECK (kind ~ '^[a-z][a-z0-9_]{0,63}$'),
  description text NOT NULL
);
INSERT INTO review_exception_kinds (kind, description) VALUES
  ('threshold', 'the draft invoice crosses a review threshold of the contract'),
  ('provider_sync_failed', 'the billing provider refused the invoice for good'),
  ('unpublished_ratecard', 'a rate-card version in force for the period was never published, or its file no longer matches what was published'),
  ('unknown_customer', 'usage of a customer no published contract covers'),
  ('step_failed', 'a step of the close failed in a way retrying cannot fix'),
  ('ingest_lagging', 'the ingest consumer has not committed what the stream received before the cut-off');

ALTER TABLE review_exceptions DROP CONSTRAINT review_exceptions_kind_check;
ALTER TABLE review_exceptions ADD CONSTRAINT review_exceptions_kind_fkey
  FOREIGN KEY (kind) REFERENCES review_exception_kinds (kind);
-- Exceptions raised before a period has a draft (unknown customer, unpublished rate card) name no invoice.
ALTER TABLE review_exceptions ALTER COLUMN invoice_id DROP NOT NULL;
-- `resolved`: what the exception waited for happened without a decision (the contract was published,
-- ingest caught up); decided_at and decision say what was seen.
ALTER TABLE review_exceptions DROP CONSTRAINT review_exceptions_status_check;
ALTER TABLE review_exceptions ADD CONSTRAINT review_exceptions_status_check
  CHECK (status IN ('open', 'escalated', 'approved', 'rejected', 'adjusted', 'resolved'));

-- A period whose invoice would be all zero under `invoice_when_zero: false` ends `skipped`: rated,
-- never numbered nor sent; late usage for it still bills as an adjustment that points at it.
ALTER TABLE invoices DROP CONSTRAINT invoices_status_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_status_check CHECK (status IN ('draft', 'held', 'issued', 'skipped'));

-- The outbox of period workflows gains the periods contracts are active in, with or without usage,
-- and each period's outcome: a customer's periods draw credits and issue in period order, so a
-- period waits until every earlier one of its customer has one.
ALTER TABLE customer_periods ALTER COLUMN first_event_at DROP NOT NULL;
ALTER TABLE customer_periods ALTER COLUMN first_received_at DROP NOT NULL;
ALTER TABLE customer_periods ADD COLUMN opened_by text NOT NULL DEFAULT 'usage' CHECK (opened_by IN ('usage', 'contract', 'close'));
ALTER TABLE customer_periods ADD COLUMN outcome text CHECK (outcome IN ('issued', 'held', 'skipped'));
ALTER TABLE customer_periods ADD COLUMN outcome_at timestamptz;
UPDATE customer_periods p SET outcome = i.status, outcome_at = coalesce(i.issued_at, i.updated_at)
  FROM invoices i
 WHERE i.mode = 'live' AND i.customer_id = p.customer_id AND i.period = p.period AND i.status IN ('issued', 'held');
CREATE INDEX customer_periods_open_by_customer ON customer_periods (customer_id, period) WHERE outcome IS NULL;

-- What a snapshot was taken under: the contract publication and the rate-card versions (with hashes)
-- the rate step uses, exactly those, and late usage of the period is re-rated under.
ALTER TABLE period_snapshots ADD COLUMN contract_hash text;
ALTER TABLE period_snapshots ADD COLUMN ratecard_versions jsonb;

-- A skipped invoice is as final as an issued one: never changed, never deleted.
CREATE OR REPLACE FUNCTION refuse_issued_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status IN ('issued', 'skipped') THEN
      RAISE EXCEPTION 'invoice % is % and cannot be deleted', OLD.invoice_id, OLD.status USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.status IN ('issued', 'skipped') THEN
    RAISE EXCEPTION 'invoice % is % and immutable; late usage becomes an adjustment on a later invoice', OLD.invoice_id, OLD.status
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF OLD.status = 'held' AND NEW.status <> 'held' THEN
    RAISE EXCEPTION 'invoice % was rejected in review and stays held', OLD.invoice_id USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
