#!/bin/sh
# First start of the postgres service (docker-entrypoint-initdb.d): the roles of SPEC §13 and
# Temporal's databases, passwords from the compose secrets; then only TLS connections are accepted.
#   tally_owner        POSTGRES_USER: owns the `tally` database and applies the migrations
#   tally_application  group role without login; the migrations' grant step gives it its rights
#   tally_app          Tally's processes log in as this member of tally_application
#   temporal           owns the temporal and temporal_visibility databases
set -eu
app_password="$(cat /run/secrets/tally-app-db-password)"
temporal_password="$(cat /run/secrets/temporal-db-password)"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_password="$app_password" -v temporal_password="$temporal_password" <<'SQL'
CREATE ROLE tally_application NOLOGIN;
CREATE ROLE tally_app LOGIN PASSWORD :'app_password' IN ROLE tally_application;
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
# Only encrypted connections from other hosts; the container's own socket stays for pg_isready.
cat > "$PGDATA/pg_hba.conf" <<'HBA'
local     all  all                trust
hostnossl all  all  0.0.0.0/0     reject
hostnossl all  all  ::/0          reject
hostssl   all  all  0.0.0.0/0     scram-sha-256
hostssl   all  all  ::/0          scram-sha-256
HBA
