#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on a local port for the tests, and print the URL to
# export as REDLINE_TEST_PG_URL. Needs Debian's postgresql package (apt-get install postgresql).
# Usage: eval "$(scripts/start_postgres.sh)"   # exports REDLINE_TEST_PG_URL
set -euo pipefail
PORT="${REDLINE_PG_PORT:-54329}"
DIR="${REDLINE_PG_DIR:-/tmp/redline-pg-$PORT}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$BIN/initdb" ] || { echo "PostgreSQL server binaries not found: apt-get install postgresql" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if ! as_pg "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
  if [ ! -f "$DIR/PG_VERSION" ]; then
    mkdir -p "$DIR"; [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    as_pg "$BIN/initdb" -D "$DIR" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  as_pg "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w \
    -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
fi
echo "export REDLINE_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
