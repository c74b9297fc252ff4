-- Recalculating closed periods (SPEC §5): event corrections, backfill plans, runs and the
-- adjustments they write. Everything here is append-only except the claim of a pending adjustment
-- by the invoice that bills it (released again if that invoice is held).

-- Event corrections: the signed void / replace records of `tally events amend`. Accepted and
-- rejected ones alike are kept (a rejected correction, like a rejected event, is never lost).
CREATE TABLE event_corrections (
  correction_seq   bigserial PRIMARY KEY,
  -- sha256 of the correction's canonical JSON: amending the same file twice records it once.
  correction_sha256 bytea NOT NULL UNIQUE,
  -- NULL when the line could not be read that far (malformed JSON, a schema violation).
  source           text,
  event_id         text,
  action           text CHECK (action IN ('void', 'replace')),
  status           text NOT NULL CHECK (status IN ('accepted', 'rejected')),
  reject_code      text,
  reject_detail    text,
  reason           text,
  -- The correction as received (signature included); a line that is not JSON as {"raw": line}.
  correction       jsonb NOT NULL,
  -- The event the correction applies to (its period and customer), for accepted ones.
  customer_id      text,
  original_event_time timestamptz,
  -- A replace's new body, in usage_events' columns (accepted replaces only).
  replacement_event_time timestamptz,
  replacement_unit text,
  replacement_sku  text,
  replacement_quantity numeric CHECK (replacement_quantity >= 0),
  replacement_metadata jsonb,
  replacement_body_sha256 bytea,
  file             text NOT NULL,
  line             integer NOT NULL,
  amended_by       text NOT NULL,
  amended_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'rejected') = (reject_code IS NOT NULL)),
  CHECK (status = 'rejected' OR (customer_id IS NOT NULL AND source IS NOT NULL AND event_id IS NOT NULL
                                 AND action IS NOT NULL AND reason IS NOT NULL)),
  CHECK (status = 'rejected' OR action = 'void' OR replacement_sku IS NOT NULL)
);
CREATE INDEX event_corrections_event ON event_corrections (source, event_id) WHERE status = 'accepted';
CREATE INDEX event_corrections_customer ON event_corrections (customer_id, original_event_time) WHERE status = 'accepted';
CREATE TRIGGER event_corrections_append_only BEFORE UPDATE OR DELETE ON event_corrections
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();

-- The event set billing rates from, corrections applied: an event's last accepted correction
-- decides (a void removes it, a replace rates the new body under the same source and event_id).
-- Same columns as usage_events for what rating reads; the raw history stays in usage_events.
CREATE VIEW corrected_usage_events AS
WITH last_correction AS (
  SELECT DISTINCT ON (source, event_id) *
    FROM event_corrections WHERE status = 'accepted'
   ORDER BY source, event_id, correction_seq DESC
)
SELECT e.source, e.event_id, e.customer_id, e.event_time, e.received_at, e.period, e.unit, e.sku, e.quantity,
       e.metadata, e.body_sha256, e.late
  FROM usage_events e
 WHERE NOT EXISTS (SELECT 1 FROM event_corrections c
                    WHERE c.status = 'accepted' AND c.source = e.source AND c.event_id = e.event_id)
UNION ALL
SELECT e.source, e.event_id, e.customer_id, c.replacement_event_time, e.received_at,
       to_char(c.replacement_event_time AT TIME ZONE 'UTC', 'YYYY-MM'), c.replacement_unit, c.replacement_sku,
       c.replacement_quantity, c.replacement_metadata, c.replacement_body_sha256, e.late
  FROM last_correction c
  JOIN usage_events e ON e.source = c.source AND e.event_id = c.event_id AND e.event_time = c.original_event_time
 WHERE c.action = 'replace';

-- A plan: what a backfill would write, and the inputs it was computed from (SPEC §5 step 1).
CREATE TABLE backfill_plans (
  plan_id             text PRIMARY KEY,
  period_from         text NOT NULL,
  period_to           text NOT NULL,
  customers           text[],
  calculation_version text NOT NULL,
  reason              text NOT NULL CHECK (reason <> ''),
  created_by          text NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  -- What the plan was computed from: terms per customer (contract and rate-card hashes), the last
  -- correction, the late events and event-set fingerprints per customer-period.
  inputs              jsonb NOT NULL,
  inputs_fingerprint  text NOT NULL,
  issued_total        numeric NOT NULL,
  rerated_total       numeric NOT NULL,
  adjustment_total    numeric NOT NULL
);
CREATE TRIGGER backfill_plans_append_only BEFORE UPDATE OR DELETE ON backfill_plans
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();

CREATE TABLE backfill_plan_items (
  plan_id              text NOT NULL REFERENCES backfill_plans (plan_id),
  customer_id          text NOT NULL,
  period               text NOT NULL,
  corrected_invoice_id text NOT NULL REFERENCES invoices (invoice_id),
  currency             text NOT NULL,
  issued_total         numeric NOT NULL,
  -- What the usage-driven lines came to (issued + every adjustment so far), per original line key.
  billed              jsonb NOT NULL,
  -- The same lines re-rated now, per original line key.
  rerated             jsonb NOT NULL,
  rerated_total        numeric NOT NULL,
  adjustment_total     numeric NOT NULL,
  causes               jsonb NOT NULL,
  -- Late events of the period not billed yet: the backfill bills them (and claims them).
  late_event_count     integer NOT NULL,
  event_fingerprint    text NOT NULL,
  PRIMARY KEY (plan_id, customer_id, period)
);
CREATE TRIGGER backfill_plan_items_append_only BEFORE UPDATE OR DELETE ON backfill_plan_items
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();

-- A run of a plan (workflow backfill:<backfill_id>): who, when, why; its end and results.
CREATE TABLE backfill_runs (
  backfill_id  text PRIMARY KEY,
  plan_id      text NOT NULL UNIQUE REFERENCES backfill_plans (plan_id),
  started_by   text NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  status       text NOT NULL CHECK (status IN ('running', 'completed', 'cancelled', 'refused')),
  finished_at  timestamptz,
  results      jsonb
);

-- One result per customer-period of a run, written once in the same transaction as its adjustment.
CREATE TABLE backfill_item_results (
  backfill_id  text NOT NULL REFERENCES backfill_runs (backfill_id),
  customer_id  text NOT NULL,
  period       text NOT NULL,
  outcome      text NOT NULL CHECK (outcome IN ('adjusted', 'unchanged')),
  adjustment_total numeric NOT NULL,
  written_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (backfill_id, customer_id, period)
);
CREATE TRIGGER backfill_item_results_append_only BEFORE UPDATE OR DELETE ON backfill_item_results
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();

-- The adjustment lines a backfill wrote, waiting for the customer's next invoice (which claims
-- them, and gives them back if it is held). Keyed by the backfill and the customer-period: once.
CREATE TABLE backfill_adjustments (
  backfill_id          text NOT NULL REFERENCES backfill_runs (backfill_id),
  customer_id          text NOT NULL,
  period               text NOT NULL,
  original_line_key    text NOT NULL,
  corrected_invoice_id text NOT NULL REFERENCES invoices (invoice_id),
  -- The AdjustmentLine as it goes on the invoice.
  line                 jsonb NOT NULL,
  amount               numeric NOT NULL,
  adjusting_invoice_id text REFERENCES invoices (invoice_id),
  PRIMARY KEY (backfill_id, customer_id, period, original_line_key)
);
CREATE INDEX backfill_adjustments_pending ON backfill_adjustments (customer_id, period) WHERE adjusting_invoice_id IS NULL;
CREATE INDEX backfill_adjustments_adjusting ON backfill_adjustments (adjusting_invoice_id);

-- Late events a backfill billed: claimed by the backfill instead of an invoice, so the next
-- invoice does not bill them a second time.
ALTER TABLE late_event_adjustments ALTER COLUMN adjusting_invoice_id DROP NOT NULL;
ALTER TABLE late_event_adjustments ADD COLUMN backfill_id text REFERENCES backfill_runs (backfill_id);
ALTER TABLE late_event_adjustments ADD CONSTRAINT late_event_adjustments_one_claimant
  CHECK ((adjusting_invoice_id IS NULL) <> (backfill_id IS NULL));
