# A throwaway PostgreSQL server on loopback for the tests (source this file; it defines functions only).
#   source scripts/postgres.sh && pg_start && trap pg_stop EXIT
# pg_start makes a fresh cluster in a temp folder, starts it on 127.0.0.1 on a free port (unix socket
# in the same folder), creates the database lab_test and exports
#   LAB_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:PORT/lab_test
# Trust authentication on loopback only: fine for a server that lives as long as one test run.
# pg_stop stops it and deletes the folder. Needs Debian's server package (apt-get install postgresql).
# As root (CI), the server runs as the postgres OS user, since PostgreSQL refuses to run as root.

_pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

_pg_free_port() {
  local py
  py="$(command -v python3 || command -v python)"
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_start() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$bin" ] || [ ! -x "$bin/pg_ctl" ]; then
    echo "pg_start: no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)" >&2
    return 1
  fi
  LAB_PG_BIN="$bin"
  LAB_PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/lab-postgres.XXXXXX")" || return 1
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$LAB_PG_DIR"; fi
  chmod 700 "$LAB_PG_DIR"
  LAB_PG_PORT="$(_pg_free_port)" || { pg_stop; return 1; }
  if ! _pg_as_owner "$bin/initdb" -D "$LAB_PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
       >"$LAB_PG_DIR/initdb.log" 2>&1; then
    echo "pg_start: initdb failed:" >&2; tail -n 20 "$LAB_PG_DIR/initdb.log" >&2; pg_stop; return 1
  fi
  local options="-c listen_addresses=127.0.0.1 -p $LAB_PG_PORT -k $LAB_PG_DIR -c fsync=off"
  options="$options -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
  if ! _pg_as_owner "$bin/pg_ctl" -D "$LAB_PG_DIR/data" -l "$LAB_PG_DIR/server.log" -o "$options" -w -t 60 start \
       >/dev/null; then
    echo "pg_start: the server did not start:" >&2; tail -n 20 "$LAB_PG_DIR/server.log" >&2; pg_stop; return 1
  fi
  if ! "$bin/createdb" -h 127.0.0.1 -p "$LAB_PG_PORT" -U postgres lab_test; then
    echo "pg_start: createdb lab_test failed" >&2; pg_stop; return 1
  fi
  export LAB_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$LAB_PG_PORT/lab_test"
  echo "$("$bin/postgres" --version) for the tests at $LAB_TEST_POSTGRES_URL"
}

pg_stop() {
  if [ -n "${LAB_PG_DIR:-}" ] && [ -d "$LAB_PG_DIR" ]; then
    if [ -f "$LAB_PG_DIR/data/postmaster.pid" ]; then
      _pg_as_owner "$LAB_PG_BIN/pg_ctl" -D "$LAB_PG_DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1
    fi
    rm -rf "$LAB_PG_DIR"
  fi
  unset LAB_PG_DIR LAB_PG_PORT LAB_TEST_POSTGRES_URL
  return 0
}
