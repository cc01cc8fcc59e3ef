#!/usr/bin/env bash
# Managed bytes allocated and CPU time per request, per APIGate route, on ONE gateway process.
#
# Allocation is the steadiest per-request figure on a shared machine: it does not move when other work competes for
# the cores. The gateway's `dotnet.gc.heap.total_allocated` (System.Runtime meter, read with dotnet-counters) is
# sampled every second while wrk drives one route at a time; bytes allocated during the run / requests served is
# the figure (the whole process: the background usage and log writers are included, they work per request too).
#
#   bench/alloc.sh                               # public and private, 3 rounds x 5 s each, log level info
#   ROUTES="public" ROUNDS=5 bench/alloc.sh
#   LOG_LEVEL=warn bench/alloc.sh                # access lines dropped by level
#   TRACE_DIR=/tmp/traces bench/alloc.sh         # also a gc-verbose dotnet-trace per route (allocation stacks)
#
# Needs wrk, nginx and dotnet-counters (`dotnet tool install -g dotnet-counters`). Everything runs on 127.0.0.1 and
# is stopped by PID on exit; every wrk run is bounded.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
UPSTREAM_PORT=${UPSTREAM_PORT:-18281}
GATEWAY_PORT=${GATEWAY_PORT:-18284}
LOG_LEVEL=${LOG_LEVEL:-info}
COUNTERS=${COUNTERS:-$(command -v dotnet-counters || echo "$HOME/.dotnet/tools/dotnet-counters")}
[[ -x $COUNTERS ]] || { echo "dotnet-counters not found (dotnet tool install -g dotnet-counters)" >&2; exit 1; }
# shellcheck source=bench/ab-common.sh
source "$REPO_DIR/bench/ab-common.sh"

export APIGATE_DATABASE_DSN=$TMP_DIR/alloc.db APIGATE_SERVER_HOST=127.0.0.1 APIGATE_SERVER_PORT=$GATEWAY_PORT APIGATE_LOG_LEVEL=$LOG_LEVEL
cli() { "$APIGATE_BIN" "$@" >>"$TMP_DIR/setup.log" 2>&1; }
cli upstreams create --name up --url "http://127.0.0.1:$UPSTREAM_PORT"
cli routes create --name public --path "/public/*" --upstream up --auth=false
cli routes create --name private --path "/private/*" --upstream up
cli routes create --name xform --path "/xform/*" --upstream up \
    --request-transform '{"headers":{"add":{"X-Source":"apigate"},"set":{"X-Trace":"${request_id}"}}}' --path-rewrite "'/rewritten' + path"
cli plans create --id bench --name Bench --rate-limit 100000000 --requests 0
cli entitlements create --name webhooks --value-type boolean --default-value true
cli users create --email alloc@example.com --plan bench
key=$("$APIGATE_BIN" keys create --user alloc@example.com --json | grep -o '"key": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
"$APIGATE_BIN" serve >/dev/null 2>"$TMP_DIR/serve.err" &
gateway=$!
PIDS+=("$gateway")
wait_healthy "$GATEWAY_PORT"

ROUTES=(${ROUTES:-public private})
run() {
    timeout $((DURATION + 10)) wrk -t2 -c32 -d"${DURATION}s" -H "Authorization: Bearer $key" "http://127.0.0.1:$GATEWAY_PORT/$1/x" \
        | awk '/requests in/ {print $1} /Non-2xx/ {print "non2xx " $NF > "/dev/stderr"}'
}
# One dotnet-counters session around each wrk run: it reports the increase of the cumulative total_allocated counter
# per second; the sum over the session is what the process allocated while it ran (an idle gateway with the session
# attached allocates ~40 KB/s, under 1% of a run's total).
for route in "${ROUTES[@]}"; do run "$route" >/dev/null; run "$route" >/dev/null; done # warm-up: tier-1 JIT, pools
declare -A bytes=() cpu=() requests=()
for round in $(seq 1 "$ROUNDS"); do
    for route in "${ROUTES[@]}"; do
        csv=$TMP_DIR/counters-$round-$route.csv
        timeout $((DURATION + 30)) "$COUNTERS" collect -p "$gateway" --counters 'System.Runtime[dotnet.gc.heap.total_allocated,dotnet.gc.collections]' \
            --duration "00:00:00:$(printf '%02d' $((DURATION + 6)))" --format csv -o "$csv" </dev/null >/dev/null 2>&1 &
        session=$!
        sleep 3 # the session is attached
        t0=$(ticks "$gateway")
        n=$(run "$route")
        t1=$(ticks "$gateway")
        wait "$session"
        b=$(awk -F, 'NR > 1 && $3 ~ /total_allocated/ { s += $NF } END { printf "%.0f", s }' "$csv")
        bytes[$route]=$(( ${bytes[$route]:-0} + b ))
        cpu[$route]=$(( ${cpu[$route]:-0} + t1 - t0 ))
        requests[$route]=$(( ${requests[$route]:-0} + n ))
        echo "round $round $route: $n requests, $(( b / n )) B/req" >&2
    done
done
if [[ -n ${TRACE_DIR:-} ]]; then
    # Allocation samples with stacks (one per ~100 KB allocated) for finding where the bytes come from; read them with
    # PerfView or any TraceEvent-based reader (GC/AllocationTick events).
    mkdir -p "$TRACE_DIR"
    tracer=$(command -v dotnet-trace || echo "$HOME/.dotnet/tools/dotnet-trace")
    for route in "${ROUTES[@]}"; do
        timeout $((DURATION + 60)) "$tracer" collect -p "$gateway" --profile gc-verbose --duration "00:00:00:$(printf '%02d' $((DURATION + 4)))" \
            -o "$TRACE_DIR/$route.nettrace" </dev/null >/dev/null 2>&1 &
        session=$!
        sleep 3
        run "$route" >/dev/null
        wait "$session"
    done
fi
hz=$(getconf CLK_TCK)
echo "| route | requests | bytes allocated / request | µs CPU / request | req/s |"
echo "|---|---:|---:|---:|---:|"
for route in "${ROUTES[@]}"; do
    awk -v b="${bytes[$route]}" -v c="${cpu[$route]}" -v n="${requests[$route]}" -v hz="$hz" -v r="$route" -v d="$DURATION" -v k="$ROUNDS" \
        'BEGIN { printf "| %s | %d | %.0f | %.1f | %.0f |\n", r, n, b / n, c / hz * 1e6 / n, n / (d * k) }'
done
gen2=$(cat "$TMP_DIR"/counters-*.csv | awk -F, '$3 ~ /dotnet.gc.collections/ && /gen2/ { s += $NF } END { printf "%d", s }')
echo "gateway peak RSS (VmHWM): $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$gateway/status"); gen2 collections during the measured runs: $gen2"
