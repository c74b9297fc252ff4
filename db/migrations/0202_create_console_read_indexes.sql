-- Indexes for the console's reads (docs/decisions/console.md, docs/BENCHMARKS.md): the invoice list
-- pages by (period, customer), filters by status; the exception queue orders waiting exceptions by
-- escalation, age and amount; the ops view counts recent receipts without scanning whole partitions.

CREATE INDEX invoices_live_list ON invoices (period, customer_id) WHERE mode = 'live';
CREATE INDEX invoices_live_status_list ON invoices (status, period, customer_id) WHERE mode = 'live';
CREATE INDEX review_exceptions_customer ON review_exceptions (customer_id, opened_at);
-- BRIN: tiny and nearly free to maintain on insert; receipt time follows the physical order.
CREATE INDEX usage_events_received_brin ON usage_events USING brin (received_at);

-- The queue sorts by amount: the draft's total and currency as columns, so sorting 10,000 waiting
-- exceptions never reads their (large) context documents. Kinds without a draft leave them null.
ALTER TABLE review_exceptions
  ADD COLUMN amount numeric GENERATED ALWAYS AS ((context #>> '{draft,total}')::numeric) STORED,
  ADD COLUMN currency text GENERATED ALWAYS AS (context #>> '{draft,currency}') STORED;
-- The queue of waiting exceptions, small enough to read whole from the index (index-only): count,
-- counts per kind and the sort for a page never touch the rows with their context documents; only
-- the page's rows are then fetched.
CREATE INDEX review_exceptions_queue ON review_exceptions (opened_at)
  INCLUDE (exception_id, status, amount, kind, customer_id) WHERE status IN ('open', 'escalated');
-- An invoice's page lists the exceptions raised on it.
CREATE INDEX review_exceptions_invoice ON review_exceptions (invoice_id);
