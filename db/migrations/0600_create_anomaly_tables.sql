-- Daily anomaly detection (SPEC §10): every anomaly found, once per series and day, and the webhook
-- deliveries its routes asked for, once per anomaly and target ("each anomaly alerts once").

CREATE TABLE anomalies (
  -- `<metric>:<customer or *>:<sku>:<day>`: a rerun of the same day finds the same ids.
  anomaly_id   text PRIMARY KEY,
  metric       text NOT NULL CHECK (metric IN ('usage', 'cogs')),
  -- NULL for COGS, which is per SKU.
  customer_id  text,
  sku          text NOT NULL,
  day          date NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('spike', 'drop', 'silence')),
  value        numeric NOT NULL,
  expected     numeric NOT NULL,
  lower_bound  numeric NOT NULL,
  upper_bound  numeric NOT NULL,
  score        double precision NOT NULL,
  severity     text NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
  -- open → acknowledged; `snoozed_until` silences alerts of the same series until then.
  status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged')),
  snoozed_until timestamptz,
  -- The action taken (throttled, meter hotfixed, workload paused, …) and who wrote it.
  action       text,
  note         text,
  updated_by   text,
  -- Why it was not routed: a snooze of its series in force when it was found.
  suppressed   text,
  detected_at  timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK ((metric = 'cogs') = (customer_id IS NULL))
);
CREATE INDEX anomalies_by_day ON anomalies (day, metric, customer_id, sku);
CREATE INDEX anomalies_by_series ON anomalies (metric, sku, customer_id, day);

CREATE TABLE anomaly_deliveries (
  anomaly_id   text NOT NULL REFERENCES anomalies (anomaly_id),
  -- The route's target name (config) and the URL it had when the anomaly was routed.
  target       text NOT NULL,
  url          text NOT NULL,
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text,
  delivered_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (anomaly_id, target)
);
CREATE INDEX anomaly_deliveries_pending ON anomaly_deliveries (created_at) WHERE delivered_at IS NULL;

-- One row per day scanned: what the daily run found (the schedule's record, and `tally anomalies list`'s footer).
CREATE TABLE anomaly_scans (
  day         date PRIMARY KEY,
  series      integer NOT NULL,
  anomalies   integer NOT NULL,
  scanned_at  timestamptz NOT NULL DEFAULT now()
);
