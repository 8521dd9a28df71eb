#!/usr/bin/env bash
# MLflow's login role and its two databases on the local stack's PostgreSQL.
#
# Runs in a one-shot container of the same postgres image, as the superuser over the server's
# Unix socket (PGHOST is the socket directory, shared through a volume; local connections are
# trusted in the official image), so no superuser password is ever needed. Idempotent: every run
# converges the server, whatever it held before (a first start, a rotated password, a volume
# kept from an earlier stack). Connection settings come from libpq's PG* variables.
#
#   MLFLOW_ROLE                  login role, e.g. mlflow_app
#   MLFLOW_ROLE_PASSWORD         its password, preferably as a SCRAM-SHA-256 verifier (stored as is)
#   MLFLOW_DATABASES             space-separated databases owned by the role
#   MLFLOW_WAIT_SECONDS          how long to wait for the server (default 120)
set -euo pipefail

: "${MLFLOW_ROLE:?MLFLOW_ROLE is required}"
: "${MLFLOW_ROLE_PASSWORD:?MLFLOW_ROLE_PASSWORD is required}"
: "${MLFLOW_DATABASES:?MLFLOW_DATABASES is required}"
wait_seconds="${MLFLOW_WAIT_SECONDS:-120}"

# Bounded: the server was healthy when this container was created; this covers a restart.
deadline=$((SECONDS + wait_seconds))
until pg_isready --quiet; do
  if ((SECONDS >= deadline)); then
    echo "mlflow-kit setup: PostgreSQL did not accept connections within ${wait_seconds} s" >&2
    exit 3
  fi
  sleep 2
done

# Values travel in the environment (\getenv), never on a command line; :'x' and :"x" quote
# them as a literal and an identifier. ALTER ROLE runs every time: it applies a rotation, and
# NOSUPERUSER/NOCREATEDB/NOCREATEROLE whatever the role held before.
psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 <<'SQL'
\getenv role MLFLOW_ROLE
\getenv password MLFLOW_ROLE_PASSWORD
SELECT format('CREATE ROLE %I', :'role')
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :'role')
\gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SQL

for database in $MLFLOW_DATABASES; do
  MLFLOW_DATABASE="$database" psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 <<'SQL'
\getenv role MLFLOW_ROLE
\getenv db MLFLOW_DATABASE
-- template0 + UTF8: the same database whatever template1 holds (as on RDS).
SELECT format('CREATE DATABASE %I OWNER %I TEMPLATE template0 ENCODING %L', :'db', :'role', 'UTF8')
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = :'db')
\gexec
ALTER DATABASE :"db" OWNER TO :"role";
-- New databases let PUBLIC connect and create temporary tables: only the role may.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT ALL ON DATABASE :"db" TO :"role";
SQL
done

echo "mlflow-kit setup: role ${MLFLOW_ROLE} and databases ${MLFLOW_DATABASES} ready"
