#!/usr/bin/env bash
# Failover under load: wrk drives a load-balanced route over three static nginx targets; one target is killed
# mid-run and started again later. Prints what the clients saw (non-2xx, socket errors) and the gateway's
# per-target counters from /metrics.
#
#   bench/failover.sh
#   DURATION=30 KILL_AT=8 RESTART_AT=18 bench/failover.sh
#
# Everything runs on 127.0.0.1; everything started is stopped by PID on exit; the wrk run is bounded.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-20}
KILL_AT=${KILL_AT:-5}
RESTART_AT=${RESTART_AT:-12}
FIRST_TARGET_PORT=${FIRST_TARGET_PORT:-18281}
GATEWAY_PORT=${GATEWAY_PORT:-18290}
UPSTREAM_PORT=$FIRST_TARGET_PORT
# shellcheck source=bench/ab-common.sh
source "$REPO_DIR/bench/ab-common.sh" # target 1 (static nginx on $FIRST_TARGET_PORT), TMP_DIR, PIDS, APIGATE_BIN

start_target() { # start_target N → static nginx on FIRST_TARGET_PORT+N-1, PID in TARGET_PID[N]
    local n=$1 port=$((FIRST_TARGET_PORT + $1 - 1)) dir=$TMP_DIR/target$1
    mkdir -p "$dir/tmp"
    sed -E "s/listen[[:space:]]+127\.0\.0\.1:[0-9]+/listen 127.0.0.1:$port/" "$REPO_DIR/bench/nginx/upstream.conf" >"$dir/nginx.conf"
    nginx -c "$dir/nginx.conf" -p "$dir/" -e "$dir/error.log" -g 'daemon off;' >/dev/null 2>&1 &
    TARGET_PID[$n]=$!
    PIDS+=("$!")
}
declare -A TARGET_PID=()
start_target 2
start_target 3

export APIGATE_DATABASE_DSN=$TMP_DIR/failover.db APIGATE_SERVER_HOST=127.0.0.1 APIGATE_SERVER_PORT=$GATEWAY_PORT APIGATE_LOG_LEVEL=info APIGATE_ACCESS_LOG=false
cli() { "$APIGATE_BIN" "$@" >>"$TMP_DIR/setup.log" 2>&1; }
cli upstreams create --name trio --lb-policy round_robin \
    --target "http://127.0.0.1:$FIRST_TARGET_PORT" --target "http://127.0.0.1:$((FIRST_TARGET_PORT + 1))" \
    --target "http://127.0.0.1:$((FIRST_TARGET_PORT + 2))" \
    --health-path / --health-interval 1s --health-timeout 1s --healthy-threshold 2 --unhealthy-threshold 2 \
    --passive-failures 3 --passive-cooldown 5s
cli routes create --name lb --path "/lb/*" --upstream trio --auth=false
"$APIGATE_BIN" serve >"$TMP_DIR/gateway.log" 2>&1 &
PIDS+=("$!")
wait_healthy "$GATEWAY_PORT"
curl -fs "http://127.0.0.1:$GATEWAY_PORT/lb/warm" >/dev/null

echo "wrk -t2 -c32 -d${DURATION}s; target 2 killed at ${KILL_AT}s, restarted at ${RESTART_AT}s"
timeout $((DURATION + 15)) wrk -t2 -c32 -d"${DURATION}s" "http://127.0.0.1:$GATEWAY_PORT/lb/x" >"$TMP_DIR/wrk.txt" &
wrk_pid=$!
sleep "$KILL_AT"
kill "${TARGET_PID[2]}"
echo "  $(date +%T) target 2 killed"
sleep $((RESTART_AT - KILL_AT))
start_target 2
echo "  $(date +%T) target 2 started again"
wait "$wrk_pid"

grep -E "requests in|Requests/sec|Non-2xx|Socket errors" "$TMP_DIR/wrk.txt" | sed 's/^/  /'
grep -q "Non-2xx" "$TMP_DIR/wrk.txt" || echo "  Non-2xx or 3xx responses: 0"
grep -q "Socket errors" "$TMP_DIR/wrk.txt" || echo "  Socket errors: none"
echo "per target (gateway /metrics):"
curl -fs "http://127.0.0.1:$GATEWAY_PORT/metrics" | grep -E '^apigate_upstream_(target_(requests|failures)_total|target_healthy|retries_total)\{[^}]*upstream="trio"' | sed 's/^/  /'
echo "health transitions (gateway log):"
grep -oE '"Message":"Upstream [^"]*target [^"]*"' "$TMP_DIR/gateway.log" | sed -e 's/^"Message":"/  /' -e 's/"$//' || true
