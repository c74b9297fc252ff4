-- Reconciliation (SPEC §11): every difference along usage → invoice → revenue → GL becomes an
-- exception in the one review queue, with both sides in its context.
INSERT INTO review_exception_kinds (kind, description) VALUES
  ('reconciliation', 'a difference along metered usage × rate → invoice lines → recognized revenue → the general ledger')
ON CONFLICT (kind) DO NOTHING;
