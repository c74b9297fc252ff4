-- A JetStream message may carry a batch of up to 1,000 events as JSON Lines (SPEC §1), each
-- rejected on its own: a rejection is now one line of one message. Single-event messages are line 0.
-- The constant default makes this a catalogue change (no table rewrite, no trigger fires).
ALTER TABLE rejected_events ADD COLUMN batch_line integer NOT NULL DEFAULT 0 CHECK (batch_line >= 0);

-- A redelivered batch stores each of its rejected lines once (the constraint keeps its name, which
-- the worker's ON CONFLICT names).
ALTER TABLE rejected_events DROP CONSTRAINT rejected_events_message_key;
ALTER TABLE rejected_events ADD CONSTRAINT rejected_events_message_key UNIQUE (stream_seq, received_at, batch_line);
