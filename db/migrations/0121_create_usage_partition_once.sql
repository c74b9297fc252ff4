-- Concurrent writers seeing a new month at once: each waited for the partition lock, then asked
-- to_regclass whether the partition existed. A backend reads the catalog cache, which an advisory
-- lock does not refresh, so every writer but the first was told "no" and failed with "relation
-- already exists" (and its batch was redelivered). After the lock, the check reads pg_class under
-- the statement's own snapshot, which sees the partition the writer before it committed.
CREATE OR REPLACE FUNCTION ensure_usage_events_partition(p_instant timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_month date := date_trunc('month', p_instant AT TIME ZONE 'UTC')::date;
  v_name  text := format('usage_events_p%s', to_char(v_month, 'YYYY_MM'));
BEGIN
  IF to_regclass(v_name) IS NOT NULL THEN
    RETURN v_name;
  END IF;
  PERFORM pg_advisory_xact_lock(7301002); -- ADVISORY_LOCKS.USAGE_PARTITIONS in db/advisory-locks.ts
  IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = v_name AND relnamespace = 'public'::regnamespace) THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF usage_events FOR VALUES FROM (%L) TO (%L)', v_name,
      to_char(v_month, 'YYYY-MM-DD') || ' 00:00:00+00',
      to_char((v_month + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00');
  END IF;
  RETURN v_name;
END
$$;
REVOKE EXECUTE ON FUNCTION ensure_usage_events_partition(timestamptz) FROM PUBLIC;
