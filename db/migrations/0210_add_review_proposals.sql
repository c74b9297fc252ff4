-- Dual control (SPEC §3, §9): an adjust above the contract's review.dual_control_above is first
-- recorded as a proposal; it becomes the decision only when a second, different reviewer confirms it.
-- The proposal stays on the row after the decision (what was proposed, by whom, when).
ALTER TABLE review_exceptions
  ADD COLUMN proposal jsonb,
  ADD COLUMN proposed_by text,
  ADD COLUMN proposed_at timestamptz,
  ADD CONSTRAINT review_exceptions_proposal_whole
    CHECK ((proposal IS NULL) = (proposed_by IS NULL) AND (proposal IS NULL) = (proposed_at IS NULL)),
  -- The database's own guard: a confirmed decision names a confirmer other than its reviewer.
  ADD CONSTRAINT review_exceptions_confirmed_by_another
    CHECK (decision ->> 'confirmedBy' IS NULL OR decision ->> 'confirmedBy' <> reviewer);
