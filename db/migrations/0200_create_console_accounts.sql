-- The console's accounts (SPEC §9): people who read, decide exceptions and administer, their
-- server-side sessions and personal tokens. Passwords and tokens are stored only as hashes.

CREATE TABLE console_users (
  username        text PRIMARY KEY CHECK (username ~ '^[a-z][a-z0-9._-]{1,63}$'),
  role            text NOT NULL CHECK (role IN ('viewer', 'reviewer', 'admin')),
  -- An argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash): memory-hard, salted.
  password_hash   text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
  created_at      timestamptz NOT NULL DEFAULT now(),
  created_by      text NOT NULL,
  disabled_at     timestamptz,
  disabled_by     text,
  -- Login throttling (domain/access/login-throttle.ts): consecutive failures since the last success.
  failed_logins   integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
  last_failed_at  timestamptz,
  locked_until    timestamptz,
  last_login_at   timestamptz
);

-- Server-side sessions. The key is the sha256 of the session id, so a read of this table yields no
-- usable cookie. `data` is the session as @fastify/session keeps it (username, CSRF secret, cookie).
CREATE TABLE console_sessions (
  session_key  text PRIMARY KEY CHECK (session_key ~ '^[0-9a-f]{64}$'),
  username     text NOT NULL REFERENCES console_users (username),
  data         jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
CREATE INDEX console_sessions_user ON console_sessions (username);

-- Personal tokens (`tally users token NAME`): the CLI and scripts act as a console user with one.
-- The token is shown once; only its sha256 is kept.
CREATE TABLE console_tokens (
  token_hash   text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  -- The token's public prefix (tly_<id>_…), shown in listings and the audit log.
  token_id     text NOT NULL UNIQUE,
  username     text NOT NULL REFERENCES console_users (username),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  revoked_at   timestamptz,
  last_used_at timestamptz
);
CREATE INDEX console_tokens_user ON console_tokens (username);

-- Settings the console's replicas share (the cookie-signing secret, generated once when not configured).
CREATE TABLE console_settings (
  name       text PRIMARY KEY,
  value      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
