-- Messages the ingest worker could not write after a bounded number of deliveries although the
-- database answered (issue 17: poison messages must not loop forever). Each is kept whole, with its
-- exact bytes, receipt time, delivery count and the error, for a person; then acked. A message is
-- parked only when this insert commits, so an unreachable database never parks anything.
CREATE TABLE ingest_parked_messages (
  id          bigserial   PRIMARY KEY,
  stream_seq  bigint      NOT NULL,
  received_at timestamptz NOT NULL,
  -- A batched message (Tally-Batch: ndjson) holds up to 1,000 events as JSON Lines.
  batched     boolean     NOT NULL,
  deliveries  integer     NOT NULL,
  error       text        NOT NULL,
  raw         bytea       NOT NULL,
  parked_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ingest_parked_messages_message_key UNIQUE (stream_seq, received_at)
);

CREATE TRIGGER ingest_parked_messages_append_only BEFORE UPDATE OR DELETE ON ingest_parked_messages
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER ingest_parked_messages_no_truncate BEFORE TRUNCATE ON ingest_parked_messages
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
