-- Marketplace metering (SPEC §12): the canonical hourly table of what each marketplace customer used
-- of each listing dimension, the records sent for it, and what the marketplaces answered. Every
-- table is append-only: a sealed bucket never changes (late usage is a later bucket's delta), an
-- answer is a new row, a bucket's final outcome is written once.

-- One row per customer, listing dimension, UTC hour and part ('usage': the hour's record; 'late':
-- late usage sent as a record of its own, Google's new operation). Quantities in the prices' unit,
-- except sent_quantity (the listing's unit).
CREATE TABLE marketplace_buckets (
  bucket_id     text PRIMARY KEY,
  customer_id   text        NOT NULL,
  marketplace   text        NOT NULL CHECK (marketplace IN ('aws', 'azure', 'gcp')),
  dimension     text        NOT NULL,
  hour          timestamptz NOT NULL CHECK (date_trunc('hour', hour, 'UTC') = hour),
  part          text        NOT NULL CHECK (part IN ('usage', 'late')),
  -- 'YYYY-MM' of the hour.
  period        text        NOT NULL CHECK (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  -- Who the record is for, as sent (fixed at sealing, so every resend is identical).
  identity      jsonb       NOT NULL,
  -- The record's key at the marketplace: Google's operationId (UUIDv5 of bucket_id), the natural key elsewhere.
  record_key    text        NOT NULL,
  unit_size     numeric     NOT NULL CHECK (unit_size > 0),
  hour_quantity numeric     NOT NULL CHECK (hour_quantity >= 0),
  -- Late usage of earlier hours (net of corrections) carried by this record; negative only to take
  -- back an unsent remainder. Its sources: marketplace_delta_sources.
  late_quantity numeric     NOT NULL,
  carry_in      numeric     NOT NULL CHECK (carry_in >= 0),
  carry_out     numeric     NOT NULL CHECK (carry_out >= 0),
  sent_quantity numeric     NOT NULL CHECK (sent_quantity >= 0),
  sealed_at     timestamptz NOT NULL DEFAULT now(),
  -- Nothing is lost between hours: what came in is sent or carried.
  CHECK (carry_in + hour_quantity + late_quantity = sent_quantity * unit_size + carry_out),
  UNIQUE (customer_id, dimension, hour, part),
  UNIQUE (marketplace, record_key)
);
CREATE INDEX marketplace_buckets_period ON marketplace_buckets (period, customer_id);
CREATE INDEX marketplace_buckets_customer_hour ON marketplace_buckets (customer_id, hour);

-- Which earlier hours' restated usage a bucket detected (and carries, when positive): an hour's
-- usage as accounted so far is its bucket's hour_quantity plus every delta whose source it is.
CREATE TABLE marketplace_delta_sources (
  detected_by text        NOT NULL REFERENCES marketplace_buckets (bucket_id),
  customer_id text        NOT NULL,
  dimension   text        NOT NULL,
  source_hour timestamptz NOT NULL,
  quantity    numeric     NOT NULL CHECK (quantity <> 0),
  PRIMARY KEY (detected_by, source_hour)
);
CREATE INDEX marketplace_delta_sources_source ON marketplace_delta_sources (customer_id, dimension, source_hour);

-- Usage reported that turned out not to exist, beyond what an unsent remainder absorbed: no
-- marketplace takes a record back, so finance refunds it (exception kind marketplace_over_report).
CREATE TABLE marketplace_over_reports (
  over_report_id   text PRIMARY KEY,
  bucket_id        text        NOT NULL REFERENCES marketplace_buckets (bucket_id),
  customer_id      text        NOT NULL,
  marketplace      text        NOT NULL,
  dimension        text        NOT NULL,
  hour             timestamptz NOT NULL,
  quantity         numeric     NOT NULL CHECK (quantity > 0),
  listing_quantity numeric     NOT NULL CHECK (listing_quantity > 0),
  refund_amount    numeric,
  currency         text,
  exception_id     text        NOT NULL,
  detected_at      timestamptz NOT NULL DEFAULT now()
);

-- Every time a record went out: written before the call, so a call whose answer was lost (a crash,
-- a timeout) leaves an attempt without an answer: in doubt until a resend finds out.
CREATE TABLE marketplace_send_attempts (
  bucket_id  text        NOT NULL REFERENCES marketplace_buckets (bucket_id),
  attempt    integer     NOT NULL CHECK (attempt >= 1),
  -- One id per call (shared by the records sent together).
  call_id    text        NOT NULL,
  sent_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (bucket_id, attempt)
);
CREATE INDEX marketplace_send_attempts_call ON marketplace_send_attempts (call_id);

-- What the marketplace said of one record in one attempt. throttled, unprocessed and
-- batch_rejected mean the marketplace did not take it (send again); the others are its verdict.
CREATE TABLE marketplace_send_answers (
  bucket_id             text        NOT NULL,
  attempt               integer     NOT NULL,
  answer                text        NOT NULL CHECK (answer IN ('accepted', 'duplicate', 'rejected', 'throttled', 'unprocessed', 'batch_rejected')),
  -- The marketplace's own reason or status (DuplicateRecord, Expired, TimestampOutOfBounds, INVALID_ARGUMENT: …).
  reason                text,
  marketplace_record_id text,
  -- What the marketplace says it holds for this key (Azure's 409 names the accepted event).
  accepted_quantity     numeric,
  answered_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (bucket_id, attempt),
  FOREIGN KEY (bucket_id, attempt) REFERENCES marketplace_send_attempts (bucket_id, attempt)
);

-- The one final outcome of a bucket's record, written once: accepted (or the marketplace already
-- had it: duplicate), rejected with the marketplace's reason, expired (its window closed unsent),
-- unknown (its window closed while a call's answer was lost). Buckets with nothing to send (Azure
-- and Google empty hours) get none.
CREATE TABLE marketplace_outcomes (
  bucket_id             text PRIMARY KEY REFERENCES marketplace_buckets (bucket_id),
  outcome               text        NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'rejected', 'expired', 'unknown')),
  reason                text,
  marketplace_record_id text,
  accepted_quantity     numeric,
  attempt               integer,
  exception_id          text,
  decided_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER marketplace_buckets_append_only BEFORE UPDATE OR DELETE ON marketplace_buckets
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER marketplace_buckets_no_truncate BEFORE TRUNCATE ON marketplace_buckets
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER marketplace_delta_sources_append_only BEFORE UPDATE OR DELETE ON marketplace_delta_sources
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER marketplace_delta_sources_no_truncate BEFORE TRUNCATE ON marketplace_delta_sources
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER marketplace_over_reports_append_only BEFORE UPDATE OR DELETE ON marketplace_over_reports
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER marketplace_over_reports_no_truncate BEFORE TRUNCATE ON marketplace_over_reports
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER marketplace_send_attempts_append_only BEFORE UPDATE OR DELETE ON marketplace_send_attempts
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER marketplace_send_attempts_no_truncate BEFORE TRUNCATE ON marketplace_send_attempts
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER marketplace_send_answers_append_only BEFORE UPDATE OR DELETE ON marketplace_send_answers
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER marketplace_send_answers_no_truncate BEFORE TRUNCATE ON marketplace_send_answers
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER marketplace_outcomes_append_only BEFORE UPDATE OR DELETE ON marketplace_outcomes
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER marketplace_outcomes_no_truncate BEFORE TRUNCATE ON marketplace_outcomes
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
