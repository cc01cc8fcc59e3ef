# ab-common.sh plus a throwaway PostgreSQL server, for the bench scripts that need one (pg-store, propagation); sourced,
# not run. Needs REPO_DIR, UPSTREAM_PORT and PG_PORT. Checks for Debian's postgresql package before anything is built
# or started, sources ab-common.sh, runs initdb in TMP_DIR (as `postgres` when root), starts the server on
# 127.0.0.1:$PG_PORT with its postmaster's PID in PIDS (stopped on exit), creates the database `apigate`, and gives
# PG_BIN, pg_dir, postmaster and as_pg besides what ab-common.sh gives.
PG_BIN=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1 || true)
[[ -n $PG_BIN && -x $PG_BIN/initdb ]] || { echo "PostgreSQL not installed (apt-get install -y postgresql)" >&2; exit 1; }
# shellcheck source=bench/ab-common.sh
source "$REPO_DIR/bench/ab-common.sh"

as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_dir=$TMP_DIR/pg
mkdir -p "$pg_dir"
if [[ $(id -u) == 0 ]]; then chmod o+x "$TMP_DIR"; chown postgres:postgres "$pg_dir"; fi
as_pg "$PG_BIN/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 >"$TMP_DIR/initdb.log" 2>&1
as_pg "$PG_BIN/postgres" -D "$pg_dir/data" -p "$PG_PORT" -c listen_addresses=127.0.0.1 -c unix_socket_directories="$pg_dir" \
    >"$TMP_DIR/postgres.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 60); do [[ -s $pg_dir/data/postmaster.pid ]] && as_pg "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.5; done
postmaster=$(head -n 1 "$pg_dir/data/postmaster.pid")
PIDS+=("$postmaster")
as_pg "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE apigate" >/dev/null
