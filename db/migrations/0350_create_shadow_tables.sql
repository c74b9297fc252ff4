-- Shadow billing before cutover (SPEC §6): legacy imports, shadow runs and their per-customer results.

-- One version of a source's legacy invoice lines for one period. A file with several periods gives
-- one version per period. Importing what the latest version already holds is a no-op; anything
-- else becomes the next version (both kept). Append-only.
CREATE TABLE shadow_legacy_imports (
  import_id    text        PRIMARY KEY,
  source       text        NOT NULL CHECK (source ~ '^[A-Za-z0-9._-]{1,64}$'),
  period       text        NOT NULL CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  version      integer     NOT NULL CHECK (version >= 1),
  file_name    text        NOT NULL,
  -- sha256 (hex) of this period's lines in a canonical form (sorted), so a reordered file is the same import.
  content_hash text        NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  line_count   integer     NOT NULL,
  imported_by  text        NOT NULL,
  imported_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source, period, version)
);

CREATE TABLE shadow_legacy_lines (
  import_id   text    NOT NULL REFERENCES shadow_legacy_imports (import_id),
  customer_id text    NOT NULL,
  price_id    text    NOT NULL,
  -- NULL: the legacy line had no quantity (a fee, a discount, a credit).
  quantity    numeric,
  amount      numeric NOT NULL,
  currency    text    NOT NULL,
  PRIMARY KEY (import_id, customer_id, price_id)
);

CREATE TRIGGER shadow_legacy_imports_append_only BEFORE UPDATE OR DELETE ON shadow_legacy_imports
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER shadow_legacy_lines_append_only BEFORE UPDATE OR DELETE ON shadow_legacy_lines
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();

-- A shadow run of one source and period: which legacy version it compared against (NULL: the
-- source had no lines for the period) and how far it got.
CREATE TABLE shadow_runs (
  run_id               text        PRIMARY KEY,
  source               text        NOT NULL,
  period               text        NOT NULL,
  calculation_version  text        NOT NULL,
  legacy_import_id     text        REFERENCES shadow_legacy_imports (import_id),
  customer_count       integer     NOT NULL,
  status               text        NOT NULL CHECK (status IN ('running', 'completed')),
  started_at           timestamptz NOT NULL DEFAULT now(),
  completed_at         timestamptz
);
CREATE INDEX shadow_runs_by_source_period ON shadow_runs (source, period, started_at DESC);

-- One customer's comparison in a run (the SPEC §6 customer object in `comparison`).
CREATE TABLE shadow_run_results (
  run_id          text        NOT NULL REFERENCES shadow_runs (run_id),
  customer_id     text        NOT NULL,
  status          text        NOT NULL CHECK (status IN ('match', 'diff', 'only_legacy', 'only_new')),
  currency        text        NOT NULL,
  legacy_total    numeric     NOT NULL,
  new_total       numeric     NOT NULL,
  variance        numeric,
  variance_pct    numeric,
  exception       boolean     NOT NULL,
  -- none (no exception) | open | accepted (explained) | rejected (Tally is wrong)
  exception_state text        NOT NULL CHECK (exception_state IN ('none', 'open', 'accepted', 'rejected')),
  decided_by      text,
  decision_note   text,
  decided_at      timestamptz,
  comparison      jsonb       NOT NULL,
  compared_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, customer_id)
);
