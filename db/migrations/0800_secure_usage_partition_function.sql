-- The application role (db/application-role.ts) may not create tables, yet ingest creates a month's
-- partition of usage_events when it first sees that month. The function that does so runs with its
-- owner's rights (the role that migrates), on a fixed search path so a caller cannot substitute
-- objects of its own; it creates nothing but a partition of usage_events named after the month.
ALTER FUNCTION ensure_usage_events_partition(timestamptz) SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE EXECUTE ON FUNCTION ensure_usage_events_partition(timestamptz) FROM PUBLIC;
