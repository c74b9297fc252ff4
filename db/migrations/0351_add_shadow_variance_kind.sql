-- A shadow run's customer over the contract's shadow thresholds (SPEC §6): decided in the same
-- review queue, through the same `decide` update (sent to the shadow run's workflow).
INSERT INTO review_exception_kinds (kind, description) VALUES
  ('shadow_variance', 'a shadow run found Tally and the legacy biller apart by more than the contract tolerates');
