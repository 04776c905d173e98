#!/usr/bin/env bash
# Makes the machine's PostgreSQL ready for the test suite: starts the cluster if it is installed
# but stopped, and creates the test role and database. Uses TEST_DATABASE_URL's defaults.
set -u
ROLE=incidents_test
PASSWORD=incidents_test
DB=incidents_test

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  exit 0  # the caller brings their own server
fi
if ! command -v pg_lsclusters >/dev/null; then
  echo "WARNING: PostgreSQL is not installed; PostgreSQL tests will fail with CI=true, skip otherwise." >&2
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "WARNING: not root, so PostgreSQL was not started or prepared; set TEST_DATABASE_URL to use your own." >&2
  exit 0
fi
read -r VERSION CLUSTER PGPORT STATUS _ < <(pg_lsclusters --no-header | head -n1)
if [ -z "${VERSION:-}" ]; then
  echo "WARNING: no PostgreSQL cluster found." >&2
  exit 0
fi
if [ "$STATUS" != "online" ]; then
  echo "Starting PostgreSQL $VERSION/$CLUSTER..."
  pg_ctlcluster "$VERSION" "$CLUSTER" start || { echo "WARNING: PostgreSQL did not start." >&2; exit 0; }
fi
psql_admin() { (cd / && runuser -u postgres -- psql -p "$PGPORT" -v ON_ERROR_STOP=1 -qtA "$@"); }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='$ROLE'")" != "1" ]; then
  psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD' CREATEDB"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$DB'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE $DB OWNER $ROLE"
fi
if [ "$PGPORT" != "5432" ]; then
  echo "NOTE: PostgreSQL listens on port $PGPORT; tests use TEST_DATABASE_URL or port 5432." >&2
fi
exit 0
