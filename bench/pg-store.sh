#!/usr/bin/env bash
# The same authenticated route on the embedded SQLite store and on PostgreSQL, in one run: two APIGate processes with
# the same upstream, route, plan, user and key set-up, one on a SQLite file and one on a throwaway PostgreSQL server
# started here (initdb in a temp directory, loopback only, default durability settings). Short interleaved rounds (as
# bench/redis-limits.sh) give each gateway's CPU per request and req/s, and the PostgreSQL server's own CPU per request
# (every process of the server: the gateway's pooled connections, the writer of usage batches, WAL and checkpoints).
# Nothing on the request path reads the store; what differs is where the usage rows are written.
#
#   bench/pg-store.sh                  # 8 rounds x 3 s per side
#   ROUNDS=6 DURATION=5 bench/pg-store.sh
#
# Needs wrk, nginx and Debian's postgresql package. Everything runs on 127.0.0.1; every process started is stopped by
# PID on exit (PostgreSQL by its postmaster's PID); every wrk run is bounded. As root, PostgreSQL runs as `postgres`.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-8}
DURATION=${DURATION:-3}
CONNECTIONS=${CONNECTIONS:-32}
UPSTREAM_PORT=${UPSTREAM_PORT:-18381}
SQLITE_PORT=${SQLITE_PORT:-18390}
PG_GATEWAY_PORT=${PG_GATEWAY_PORT:-18391}
PG_PORT=${PG_PORT:-18393}
# shellcheck source=bench/pg-server.sh
source "$REPO_DIR/bench/pg-server.sh" # ab-common.sh, then the PostgreSQL server

export APIGATE_SERVER_HOST=127.0.0.1 APIGATE_LOG_LEVEL=warn
pg_env=(APIGATE_DATABASE_DRIVER=postgres "APIGATE_DATABASE_DSN=Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=apigate")
sqlite_env=(APIGATE_DATABASE_DRIVER=sqlite "APIGATE_DATABASE_DSN=$TMP_DIR/ab.db")
setup() { # ENV... -> the key, after creating the same upstream, route, plan and user in that store
    local cli=(env "$@" "$APIGATE_BIN")
    {
        "${cli[@]}" upstreams create --name up --url "http://127.0.0.1:$UPSTREAM_PORT"
        "${cli[@]}" routes create --name private --path "/private/*" --upstream up
        "${cli[@]}" plans create --id bench --name Bench --rate-limit 100000000 --requests 1000000000
        "${cli[@]}" users create --email ab@example.com --plan bench
    } >>"$TMP_DIR/setup.log" 2>&1
    "${cli[@]}" keys create --user ab@example.com --json 2>>"$TMP_DIR/setup.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'
}
declare -A key=() gw=() port=()
key[sqlite]=$(setup "${sqlite_env[@]}")
key[postgres]=$(setup "${pg_env[@]}")
port[sqlite]=$SQLITE_PORT port[postgres]=$PG_GATEWAY_PORT
for side in sqlite postgres; do
    store_env=("${sqlite_env[@]}")
    [[ $side == postgres ]] && store_env=("${pg_env[@]}")
    env APIGATE_SERVER_PORT="${port[$side]}" "${store_env[@]}" "$APIGATE_BIN" serve >"$TMP_DIR/serve-$side.log" 2>&1 &
    gw[$side]=$!
    PIDS+=("${gw[$side]}")
    wait_healthy "${port[$side]}"
    curl -fsS -H "Authorization: Bearer ${key[$side]}" "http://127.0.0.1:${port[$side]}/private/x" >/dev/null \
        || { echo "pre-flight to the $side gateway failed" >&2; tail -n 5 "$TMP_DIR/serve-$side.log" >&2; exit 1; }
done

# pg_ticks: CPU ticks of the PostgreSQL server so far (the postmaster and every process it started that still runs).
pg_ticks() {
    local total=0 pid
    for pid in "$postmaster" $(ps --ppid "$postmaster" -o pid= 2>/dev/null); do
        [[ -r /proc/$pid/stat ]] && total=$((total + $(ticks "$pid" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
wrk_run() { # SIDE -> requests completed
    local out
    out=$(timeout $((DURATION + 10)) wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -H "Authorization: Bearer ${key[$1]}" "http://127.0.0.1:${port[$1]}/private/x")
    grep -q "Non-2xx" <<<"$out" && echo "warning: $1: $(grep "Non-2xx" <<<"$out")" >&2
    awk '/requests in/ {print $1}' <<<"$out"
}
declare -A cpu=() reqs=() secs=() server=()
for side in sqlite postgres; do wrk_run "$side" >/dev/null; done # warm-up
for round in $(seq 1 "$ROUNDS"); do
    order=(sqlite postgres)
    ((round % 2 == 0)) && order=(postgres sqlite)
    for side in "${order[@]}"; do
        b=$(ticks "${gw[$side]}"); pb=$(pg_ticks); t0=$(date +%s%N)
        n=$(wrk_run "$side")
        sleep 1 # the last usage batch of the round is written (it flushes within a second) before the server is read
        t1=$(date +%s%N); a=$(ticks "${gw[$side]}"); pa=$(pg_ticks)
        cpu[$side]=$((${cpu[$side]:-0} + a - b))
        reqs[$side]=$((${reqs[$side]:-0} + n))
        secs[$side]=$((${secs[$side]:-0} + (t1 - t0) / 1000000 - 1000))
        server[$side]=$((${server[$side]:-0} + pa - pb))
    done
done

hz=$(getconf CLK_TCK)
echo "| store | requests | req/s | gateway CPU µs/request | PostgreSQL server CPU µs/request |"
echo "|---|---:|---:|---:|---:|"
for side in sqlite postgres; do
    awk -v c="${cpu[$side]}" -v n="${reqs[$side]}" -v ms="${secs[$side]}" -v hz="$hz" -v s="$side" -v pc="${server[$side]}" 'BEGIN {
        printf "| %s | %d | %.0f | %.2f | %.2f |\n", s, n, n / (ms / 1000), c / hz * 1e6 / n, pc / hz * 1e6 / n }'
done
# Every usage event accounted for: wait (at most 60 s) for the PostgreSQL gateway's queue to drain, then count rows.
metric() { curl -fsS "http://127.0.0.1:$1/metrics" | awk -v m="$2" '{ sub(/\{\}$/, "", $1) } $1 == m {print int($2)}'; }
for _ in $(seq 1 60); do [[ $(metric "${port[postgres]}" apigate_usage_queue_depth) == 0 ]] && break; sleep 1; done
sleep 2
rows=$(as_pg "$PG_BIN/psql" -tA -h 127.0.0.1 -p "$PG_PORT" -U postgres -d apigate -c "SELECT count(*) FROM usage_events")
echo
echo "PostgreSQL gateway: $rows usage rows for $((${reqs[postgres]} + 1)) requests (rounds and pre-flight; the warm-up's besides), queue $(metric "${port[postgres]}" apigate_usage_queue_depth), dropped $(metric "${port[postgres]}" apigate_usage_events_dropped_total)"
sqlite_rows=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM usage_events").fetchone()[0])' "$TMP_DIR/ab.db")
echo "SQLite gateway: $sqlite_rows usage rows for $((${reqs[sqlite]} + 1)) requests, dropped $(metric "${port[sqlite]}" apigate_usage_events_dropped_total)"
