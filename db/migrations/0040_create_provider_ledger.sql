-- Provider sync: the embedded ledger sink and the record of every invoice synced to a provider.
-- Keys come from the issued invoice (invoice_id, line_key), so a repeated or concurrent sync
-- inserts nothing new (INSERT … ON CONFLICT DO NOTHING).

-- The ledger provider's copy of an issued invoice: what "the billing provider" holds when no
-- external one is configured. Amounts are NUMERIC, exactly as issued.
CREATE TABLE provider_ledger_invoices (
  invoice_id            text PRIMARY KEY,
  external_invoice_id   text NOT NULL UNIQUE,
  external_customer_id  text NOT NULL,
  customer_id           text NOT NULL,
  invoice_number        text NOT NULL,
  period                text NOT NULL,
  currency              text NOT NULL,
  period_start          timestamptz NOT NULL,
  period_end            timestamptz NOT NULL,
  subtotal              numeric NOT NULL,
  total                 numeric NOT NULL,
  issued_at             timestamptz NOT NULL,
  line_count            integer NOT NULL CHECK (line_count >= 0),
  recorded_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE provider_ledger_lines (
  invoice_id        text NOT NULL REFERENCES provider_ledger_invoices (invoice_id),
  line_key          text NOT NULL,
  external_item_id  text NOT NULL UNIQUE,
  position          integer NOT NULL CHECK (position >= 0),
  kind              text NOT NULL CHECK (kind IN ('usage', 'fee', 'discount', 'commit_true_up', 'credit', 'adjustment')),
  description       text NOT NULL,
  amount            numeric NOT NULL,
  -- The whole line as issued (tiers, quantities, the credit or period it refers to).
  line              jsonb NOT NULL,
  PRIMARY KEY (invoice_id, line_key),
  UNIQUE (invoice_id, position)
);

-- One row per (invoice, provider): the external ids a sync produced. Written once, when the sync
-- is complete; a later sync of the same invoice finds it and returns the same ids.
CREATE TABLE provider_sync_records (
  invoice_id            text NOT NULL,
  provider              text NOT NULL CHECK (provider IN ('ledger', 'stripe')),
  external_customer_id  text NOT NULL,
  external_invoice_id   text NOT NULL,
  status                text NOT NULL,
  -- line_key -> external item id
  items                 jsonb NOT NULL,
  synced_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (invoice_id, provider),
  UNIQUE (provider, external_invoice_id)
);
