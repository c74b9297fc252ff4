-- Immutable usage history (SPEC §1): one row per accepted (source, event_id), partitioned by event-time month.
--
-- A unique key on a partitioned table must contain the partition key, so (source, event_id) is made
-- unique across all partitions by a separate, unpartitioned key table that the ingest worker writes in
-- the same statement, and so the same transaction, as the event row: a key exists only if its event does.

CREATE TABLE usage_event_keys (
  source      text        NOT NULL,
  event_id    text        NOT NULL,
  -- sha256 of the RFC 8785 canonical JSON of the event without its signature: a repeat with the same
  -- hash is a duplicate, with another hash an id_conflict.
  body_sha256 bytea       NOT NULL,
  -- Locates the row in usage_events (partition pruning) without a cross-partition index.
  event_time  timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  stream_seq  bigint      NOT NULL,
  PRIMARY KEY (source, event_id)
);

CREATE TABLE usage_events (
  source         text        NOT NULL,
  event_id       text        NOT NULL,
  customer_id    text        NOT NULL,
  -- When the usage happened (the event's signed timestamp): it decides the billing period.
  event_time     timestamptz NOT NULL,
  -- When JetStream stored the message (kept across redeliveries): decides lateness and invoice cut-offs.
  received_at    timestamptz NOT NULL,
  -- 'YYYY-MM' of event_time in UTC.
  period         text        NOT NULL CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  unit           text        NOT NULL,
  sku            text        NOT NULL,
  quantity       numeric     NOT NULL CHECK (quantity >= 0),
  metadata       jsonb       NOT NULL,
  schema_version smallint    NOT NULL,
  -- The timestamp and quantity exactly as signed: with the other columns they rebuild the canonical
  -- JSON, so the signature of any stored event can be verified again.
  signed_timestamp text      NOT NULL,
  signed_quantity  text      NOT NULL,
  signature      text        NOT NULL,
  body_sha256    bytea       NOT NULL,
  -- The customer-period was already closed (period_closures.event_cutoff < received_at) when this
  -- event was stored: it is billed as an adjustment, never dropped.
  late           boolean     NOT NULL,
  stream_seq     bigint      NOT NULL
) PARTITION BY RANGE (event_time);

-- The billing workflow aggregates one customer-period with an index range scan.
CREATE INDEX usage_events_customer_time_idx ON usage_events (customer_id, event_time);

-- Creates the month partition of usage_events that holds `p_instant`, if missing; safe to call
-- concurrently (serialised by an advisory lock) and repeatedly. Returns the partition's name.
CREATE FUNCTION ensure_usage_events_partition(p_instant timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_month date := date_trunc('month', p_instant AT TIME ZONE 'UTC')::date;
  v_name  text := format('usage_events_p%s', to_char(v_month, 'YYYY_MM'));
BEGIN
  IF to_regclass(v_name) IS NOT NULL THEN
    RETURN v_name;
  END IF;
  PERFORM pg_advisory_xact_lock(7301002); -- ADVISORY_LOCKS.USAGE_PARTITIONS in db/advisory-locks.ts
  IF to_regclass(v_name) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF usage_events FOR VALUES FROM (%L) TO (%L)', v_name,
      to_char(v_month, 'YYYY-MM-DD') || ' 00:00:00+00',
      to_char((v_month + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00');
  END IF;
  RETURN v_name;
END
$$;

-- Usage history is append-only: updates, deletes and truncation are refused. Retention is a
-- deliberate operator action (detach and drop a whole month partition), never a row edit.
CREATE FUNCTION refuse_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER usage_events_append_only BEFORE UPDATE OR DELETE ON usage_events
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER usage_events_no_truncate BEFORE TRUNCATE ON usage_events
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER usage_event_keys_append_only BEFORE UPDATE OR DELETE ON usage_event_keys
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER usage_event_keys_no_truncate BEFORE TRUNCATE ON usage_event_keys
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
