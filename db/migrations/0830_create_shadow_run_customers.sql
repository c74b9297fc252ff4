-- The customers of a shadow run, recorded once with the run when it is planned (docs/decisions/shadow.md
-- "Bounded history"): the run reads them a page at a time in customer order, so a run over many
-- thousands of customers never lists them in one activity result, and a page holds the same customers
-- however often it is read (a contract published while the run goes on does not move them).
CREATE TABLE shadow_run_customers (
  run_id      text    NOT NULL REFERENCES shadow_runs (run_id),
  customer_id text    NOT NULL,
  -- true: a contract is active in the period (closed in shadow, then compared); false: legacy lines only.
  rated       boolean NOT NULL,
  PRIMARY KEY (run_id, customer_id)
);
CREATE TRIGGER shadow_run_customers_append_only BEFORE UPDATE OR DELETE ON shadow_run_customers
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
