-- Late usage is claimed per customer when the next invoice is rated: find it without scanning the month.
CREATE INDEX usage_events_late_idx ON usage_events (customer_id, event_time) WHERE late;
