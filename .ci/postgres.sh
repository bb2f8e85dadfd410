# PostgreSQL 15 (Debian's) for the tests, sourced by .ci/run: `postgres_start` runs a
# server of its own in a temp dir on 127.0.0.1 and a free port (trust auth, nothing else
# listens) and exports WHARF_TEST_POSTGRES; `postgres_stop` stops it and removes the dir.
# The server refuses to run as root, so it runs as the `postgres` user when we are root.
pg_bin=/usr/lib/postgresql/15/bin

postgres_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_start() {
  postgres_dir=$(mktemp -d /tmp/wharf-postgres.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$postgres_dir"
  postgres_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  postgres_as "$pg_bin/initdb" -D "$postgres_dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  postgres_as "$pg_bin/pg_ctl" -D "$postgres_dir/data" -l "$postgres_dir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $postgres_port -k $postgres_dir -c max_connections=300 -c fsync=off" start >/dev/null
  export WHARF_TEST_POSTGRES="postgres://postgres@127.0.0.1:$postgres_port/postgres"
}

postgres_stop() {
  if [ -n "${postgres_dir:-}" ]; then
    postgres_as "$pg_bin/pg_ctl" -D "$postgres_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$postgres_dir"
  fi
}
