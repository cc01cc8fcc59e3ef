#!/usr/bin/env bash
# CPU per request for several APIGate routes on ONE gateway process, measured in many short interleaved rounds.
# Throughput on a shared 2-core VM drifts by +-15% between runs; CPU seconds per request, summed over many
# alternating rounds, resolves differences of a few percent (e.g. the cost of transforms over a plain route).
#
#   bench/ab-cpu.sh                  # private vs xform vs public, 10 rounds x 3 s each
#   ROUNDS=20 DURATION=3 bench/ab-cpu.sh
#
# Everything runs on 127.0.0.1; everything started is stopped by PID on exit; every wrk run is bounded.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-3}
UPSTREAM_PORT=${UPSTREAM_PORT:-18181}
GATEWAY_PORT=${GATEWAY_PORT:-18184}
# shellcheck source=bench/ab-common.sh
source "$REPO_DIR/bench/ab-common.sh"

export APIGATE_DATABASE_DSN=$TMP_DIR/ab.db APIGATE_SERVER_HOST=127.0.0.1 APIGATE_SERVER_PORT=$GATEWAY_PORT APIGATE_LOG_LEVEL=warn
cli() { "$APIGATE_BIN" "$@" >>"$TMP_DIR/setup.log" 2>&1; }
cli upstreams create --name up --url "http://127.0.0.1:$UPSTREAM_PORT"
cli routes create --name public --path "/public/*" --upstream up --auth=false
cli routes create --name private --path "/private/*" --upstream up
cli routes create --name xform --path "/xform/*" --upstream up \
    --request-transform '{"headers":{"add":{"X-Source":"apigate"},"set":{"X-Trace":"${request_id}"}}}' --path-rewrite "'/rewritten' + path"
cli plans create --id bench --name Bench --rate-limit 100000000 --requests 0
cli users create --email ab@example.com --plan bench
key=$("$APIGATE_BIN" keys create --user ab@example.com --json | grep -o '"key": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
"$APIGATE_BIN" serve >"$TMP_DIR/serve.log" 2>&1 &
gateway=$!
PIDS+=("$gateway")
wait_healthy "$GATEWAY_PORT"

ROUTES=(${ROUTES:-public private xform})
declare -A cpu=() requests=()
run() { timeout $((DURATION + 10)) wrk -t2 -c32 -d"${DURATION}s" -H "Authorization: Bearer $key" "http://127.0.0.1:$GATEWAY_PORT/$1/x" | awk '/requests in/ {print $1}'; }
for route in "${ROUTES[@]}"; do run "$route" >/dev/null; done # warm-up
for round in $(seq 1 "$ROUNDS"); do
    for route in "${ROUTES[@]}"; do
        before=$(ticks "$gateway"); n=$(run "$route"); after=$(ticks "$gateway")
        cpu[$route]=$(( ${cpu[$route]:-0} + after - before ))
        requests[$route]=$(( ${requests[$route]:-0} + n ))
    done
done
hz=$(getconf CLK_TCK)
for route in "${ROUTES[@]}"; do
    awk -v c="${cpu[$route]}" -v n="${requests[$route]}" -v hz="$hz" -v r="$route" \
        'BEGIN { printf "%-8s %8.2f us CPU/request over %d requests\n", r, c / hz * 1e6 / n, n }'
done
