-- Live pricing experiments (SPEC §10, docs/decisions/finops.md "Pricing experiments"): which contracts
-- of a base rate card bill on a variant card from which period, by which rule, who decided and why.
-- Billing never reads these tables: the variant reaches invoices as contract publications (terms/).

CREATE TABLE pricing_experiments (
  experiment_id    text PRIMARY KEY,
  base_ratecard    text NOT NULL,
  variant_ratecard text NOT NULL CHECK (variant_ratecard <> base_ratecard),
  currency         text NOT NULL,
  -- The first period billed on the variant (earlier periods keep the terms their snapshot recorded).
  start_period     text NOT NULL CHECK (tally_period_in_range(start_period)),
  -- { kind: hash, seed, variant_share } | { kind: list, variant_customers }
  rule             jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'stopped')),
  reason           text NOT NULL,
  created_by       text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  stopped_by       text,
  stopped_at       timestamptz,
  stop_reason      text,
  CHECK ((status = 'stopped') = (stopped_at IS NOT NULL))
);

-- One row per eligible contract, written once when the experiment is created (the cohorts are fixed).
CREATE TABLE pricing_experiment_assignments (
  experiment_id         text NOT NULL REFERENCES pricing_experiments (experiment_id),
  customer_id           text NOT NULL,
  arm                   text NOT NULL CHECK (arm IN ('variant', 'control')),
  -- The contract publication in force when assigned, and the one the experiment published (variant only).
  contract_hash_before  text NOT NULL,
  contract_hash_variant text,
  assigned_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (experiment_id, customer_id),
  CHECK ((arm = 'variant') = (contract_hash_variant IS NOT NULL))
);
-- A contract is in at most one running experiment: enforced when creating (under a lock), looked up here.
CREATE INDEX pricing_experiment_assignments_by_customer ON pricing_experiment_assignments (customer_id);
