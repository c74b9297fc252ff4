-- The audit log (SPEC §9): one row per action a person or a process took (logins, decisions, user
-- changes, rate-card publications, backfills, shadow acceptances, cutover flips), append-only and
-- hash-chained: each row's hash covers its content and the previous row's hash, so an edited or a
-- removed row breaks the chain (`tally audit verify`). No retention cap: rows are never deleted.

CREATE TABLE audit_log (
  seq         bigint PRIMARY KEY CHECK (seq >= 1),
  at          timestamptz NOT NULL,
  -- Who acted: a console user ('user'), or a process acting on its own ('process', e.g. the demo).
  actor_kind  text NOT NULL CHECK (actor_kind IN ('user', 'process')),
  actor       text NOT NULL,
  -- What was done, e.g. login_succeeded, exception_decided, user_added, ratecard_published.
  action      text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]{1,63}$'),
  -- What it was done to, e.g. exception:exc:inv:acme:2026-10:threshold:1, user:ana.
  subject     text NOT NULL,
  details     jsonb NOT NULL,
  prev_hash   text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash        text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
