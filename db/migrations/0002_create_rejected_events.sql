-- Every event the ingest worker refuses, with its raw bytes, receipt time and one reason (SPEC §1).
CREATE TABLE rejected_events (
  id          bigserial   PRIMARY KEY,
  -- The JetStream message timestamp (kept across redeliveries).
  received_at timestamptz NOT NULL,
  reason      text        NOT NULL CHECK (reason IN ('malformed_json', 'schema_violation', 'bad_signature',
                'unknown_source', 'timestamp_too_old', 'timestamp_in_future', 'id_conflict')),
  detail      text        NOT NULL,
  -- Filled when the body was parseable far enough to name them.
  source      text,
  event_id    text,
  raw         bytea       NOT NULL,
  stream_seq  bigint      NOT NULL,
  stored_at   timestamptz NOT NULL DEFAULT now(),
  -- A redelivered message is stored once. The receipt time is part of the key so that a stream
  -- recreated from sequence 1 can never make a new rejection look like an old one.
  CONSTRAINT rejected_events_message_key UNIQUE (stream_seq, received_at)
);

CREATE INDEX rejected_events_reason_idx ON rejected_events (reason, received_at);
CREATE INDEX rejected_events_key_idx ON rejected_events (source, event_id) WHERE event_id IS NOT NULL;

CREATE TRIGGER rejected_events_append_only BEFORE UPDATE OR DELETE ON rejected_events
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER rejected_events_no_truncate BEFORE TRUNCATE ON rejected_events
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
