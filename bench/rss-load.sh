#!/usr/bin/env bash
# Resident memory of the gateway under load: one APIGate (authenticated route with a plan and a key, log level info)
# in front of the static nginx upstream, idle RSS after a first request, then `wrk -t2 -c32` for DURATION seconds
# (default 20) with VmRSS sampled every second, and RSS 5 s after the load. RUNS (default 1) fresh gateways one
# after the other; APIGATE_ENV adds KEY=VALUE settings for the gateway. Everything on 127.0.0.1 (ports 18081 and
# 18297); everything started is stopped by PID on exit; every wrk run is bounded.
#
#   bench/rss-load.sh
#   RUNS=3 APIGATE_ENV="DOTNET_GCgen0size=0x400000" bench/rss-load.sh
#   APIGATE_BIN=/tmp/base/src/ApiGate.Cli/bin/Release/net10.0/apigate SKIP_BUILD=1 bench/rss-load.sh   # another build
set -euo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-20}
RUNS=${RUNS:-1}
PORT=${PORT:-18297}
read -r -a APIGATE_ENV_ARR <<<"${APIGATE_ENV:-}"
# The gateway warns about unknown APIGATE_* variables: this one is the script's own, not a setting.
unset APIGATE_ENV
TMP_PREFIX=apigate-rss
# shellcheck source=bench/prelude.sh
source "$REPO_DIR/bench/prelude.sh"

mkdir -p "$TMP_DIR/upstream/tmp"
nginx -c "$REPO_DIR/bench/nginx/upstream.conf" -p "$TMP_DIR/upstream/" -g "daemon off;" 2>"$TMP_DIR/upstream.err" &
PIDS+=("$!")

rss() { awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$1/status"; }

for run in $(seq 1 "$RUNS"); do
    db=$TMP_DIR/run$run.db
    cli() { APIGATE_DATABASE_DSN=$db "$APIGATE_BIN" "$@" >>"$TMP_DIR/setup.log" 2>&1; }
    cli upstreams create --name up --url "http://127.0.0.1:18081"
    cli routes create --name private --path "/private/*" --upstream up
    cli plans create --id bench --name Bench --rate-limit 100000000 --requests 0
    cli users create --email rss@example.com --plan bench
    key=$(APIGATE_DATABASE_DSN=$db "$APIGATE_BIN" keys create --user rss@example.com --json | grep -o '"key": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
    env "${APIGATE_ENV_ARR[@]}" APIGATE_DATABASE_DSN="$db" APIGATE_SERVER_HOST=127.0.0.1 APIGATE_SERVER_PORT="$PORT" APIGATE_LOG_LEVEL=info \
        "$APIGATE_BIN" serve >"$TMP_DIR/gateway$run.log" 2>&1 &
    gateway=$!
    PIDS+=("$gateway")
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/health/ready" && break
        sleep 0.1
    done
    status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/private/x")
    [[ $status == 200 ]] || { echo "first request answered $status" >&2; exit 1; }
    sleep 2
    idle=$(rss "$gateway")
    timeout $((DURATION + 10)) wrk -t2 -c32 -d"${DURATION}s" -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/private/x" >"$TMP_DIR/wrk$run.txt" &
    load=$!
    samples=()
    for _ in $(seq 1 "$DURATION"); do
        sleep 1
        samples+=("$(rss "$gateway")")
    done
    wait "$load"
    sleep 5
    after=$(rss "$gateway")
    peak=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
    last=$(printf '%s\n' "${samples[@]: -5}" | sort -n | tail -1)
    rate=$(awk '/Requests\/sec/ { print int($2) }' "$TMP_DIR/wrk$run.txt")
    echo "run $run: idle $idle MiB, peak $peak MiB, last 5 s of load ≤ $last MiB, 5 s after $after MiB, $rate req/s; every second: ${samples[*]}"
    kill "$gateway"
    wait "$gateway" 2>/dev/null || true
done
