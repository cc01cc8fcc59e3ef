#!/usr/bin/env bash
# Redis-backed admission vs in-process admission, in one run: two APIGate processes on one SQLite file, the same
# authenticated, rate-limited and quota-counted route, one with APIGATE_REDIS_URL (a redis-server started here) and one
# without. Short interleaved rounds (as bench/ab-cpu.sh) give the gateway's CPU per request and req/s of each, and the
# redis-server's own CPU per request. A last phase drives both Redis-backed instances at once (two gateways, one Redis).
#
#   bench/redis-limits.sh                      # 8 rounds x 3 s per side
#   ROUNDS=12 DURATION=3 bench/redis-limits.sh
#   GATEWAY_ENV="DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0" bench/redis-limits.sh   # extra environment, both gateways
#   REDIS_TRANSPORT=unix bench/redis-limits.sh  # the Redis-backed gateways reach Redis over a Unix domain socket
#   REDIS_TRANSPORT=both bench/redis-limits.sh  # three sides per round: in-process, Redis over TCP, over the socket
#
# Needs wrk, nginx, redis-server (apt-get install -y wrk nginx redis-server). Everything runs on 127.0.0.1; every
# process started is stopped by PID on exit; every wrk run is bounded.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-8}
DURATION=${DURATION:-3}
CONNECTIONS=${CONNECTIONS:-32}
UPSTREAM_PORT=${UPSTREAM_PORT:-18281}
LOCAL_PORT=${LOCAL_PORT:-18290}
REDIS_GATEWAY_PORT=${REDIS_GATEWAY_PORT:-18291}
SECOND_GATEWAY_PORT=${SECOND_GATEWAY_PORT:-18292}
REDIS_PORT=${REDIS_PORT:-18293}
command -v redis-server >/dev/null || { echo "redis-server not installed (apt-get install -y redis-server)" >&2; exit 1; }
# shellcheck source=bench/ab-common.sh
source "$REPO_DIR/bench/ab-common.sh"

mkdir -p "$TMP_DIR/redis"
REDIS_TRANSPORT=${REDIS_TRANSPORT:-tcp}
[[ $REDIS_TRANSPORT =~ ^(tcp|unix|both)$ ]] || { echo "REDIS_TRANSPORT must be tcp, unix or both" >&2; exit 2; }
redis_socket=$TMP_DIR/redis/redis.sock
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --unixsocket "$redis_socket" --unixsocketperm 700 --dir "$TMP_DIR/redis" --save "" --appendonly no --daemonize no \
    --logfile "$TMP_DIR/redis/redis.log" &
redis=$!
PIDS+=("$redis")

export APIGATE_DATABASE_DSN=$TMP_DIR/ab.db APIGATE_SERVER_HOST=127.0.0.1 APIGATE_LOG_LEVEL=warn
cli() { "$APIGATE_BIN" "$@" >>"$TMP_DIR/setup.log" 2>&1; }
cli upstreams create --name up --url "http://127.0.0.1:$UPSTREAM_PORT"
cli routes create --name private --path "/private/*" --upstream up
# Limits high enough never to reject during the run: every request runs the bucket + quota script.
cli plans create --id bench --name Bench --rate-limit 100000000 --requests 1000000000
cli users create --email ab@example.com --plan bench
key=$("$APIGATE_BIN" keys create --user ab@example.com --json | grep -o '"key": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')

start() { # PORT [KEY=VALUE...]: starts a gateway in the background, its PID in $started (recorded for cleanup)
    local port=$1
    shift
    # shellcheck disable=SC2086 # GATEWAY_ENV is a list of KEY=VALUE words
    env APIGATE_SERVER_PORT="$port" ${GATEWAY_ENV:-} "$@" "$APIGATE_BIN" serve >"$TMP_DIR/serve-$port.log" 2>&1 &
    started=$!
    PIDS+=("$started")
    wait_healthy "$port"
    curl -fsS -H "Authorization: Bearer $key" "http://127.0.0.1:$port/private/x" >/dev/null \
        || { echo "pre-flight to port $port failed" >&2; tail -n 5 "$TMP_DIR/serve-$port.log" >&2; exit 1; }
}
tcp_url="redis://127.0.0.1:$REDIS_PORT/0"
unix_url="unix://$redis_socket?db=0"
declare -A gw=() gw_port=() label=()
sides=(local)
start "$LOCAL_PORT"
gw[local]=$started gw_port[local]=$LOCAL_PORT label[local]="in-process"
if [[ $REDIS_TRANSPORT != unix ]]; then
    start "$REDIS_GATEWAY_PORT" APIGATE_REDIS_URL="$tcp_url"
    gw[tcp]=$started gw_port[tcp]=$REDIS_GATEWAY_PORT label[tcp]="Redis over TCP (one script per request)"
    sides+=(tcp)
fi
if [[ $REDIS_TRANSPORT != tcp ]]; then
    unix_port=$([[ $REDIS_TRANSPORT == unix ]] && echo "$REDIS_GATEWAY_PORT" || echo "$SECOND_GATEWAY_PORT")
    start "$unix_port" APIGATE_REDIS_URL="$unix_url"
    gw[unix]=$started gw_port[unix]=$unix_port label[unix]="Redis over a Unix socket (one script per request)"
    sides+=(unix)
fi
redis_url=$([[ $REDIS_TRANSPORT == unix ]] && echo "$unix_url" || echo "$tcp_url")
redis_side=$([[ $REDIS_TRANSPORT == unix ]] && echo unix || echo tcp)

wrk_run() { # PORT -> requests completed (non-2xx would mean a limit fired: reported)
    local out
    out=$(timeout $((DURATION + 10)) wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -H "Authorization: Bearer $key" "http://127.0.0.1:$1/private/x")
    if grep -q "Non-2xx" <<<"$out"; then
        echo "warning: port $1: $(grep "Non-2xx" <<<"$out")" >&2
        grep -h '"LogLevel":"\(Warning\|Error\)"' "$TMP_DIR"/serve-*.log | grep -v AdminTokenStartupCheck | tail -n 3 | cut -c1-400 >&2 || true
    fi
    awk '/requests in/ {print $1}' <<<"$out"
}
declare -A cpu=() reqs=() secs=() rcpu=()
for side in "${sides[@]}"; do wrk_run "${gw_port[$side]}" >/dev/null; done # warm-up
for round in $(seq 1 "$ROUNDS"); do
    # Each round rotates the order, so no side always runs first or last.
    order=("${sides[@]:round % ${#sides[@]}}" "${sides[@]:0:round % ${#sides[@]}}")
    for side in "${order[@]}"; do
        pid=${gw[$side]}
        b=$(ticks "$pid"); rb=$(ticks "$redis"); t0=$(date +%s%N)
        n=$(wrk_run "${gw_port[$side]}")
        t1=$(date +%s%N); a=$(ticks "$pid"); ra=$(ticks "$redis")
        cpu[$side]=$((${cpu[$side]:-0} + a - b))
        reqs[$side]=$((${reqs[$side]:-0} + n))
        secs[$side]=$((${secs[$side]:-0} + (t1 - t0) / 1000000))
        rcpu[$side]=$((${rcpu[$side]:-0} + ra - rb))
    done
done

hz=$(getconf CLK_TCK)
echo "| admission | requests | req/s | gateway CPU µs/request | redis-server CPU µs/request |"
echo "|---|---:|---:|---:|---:|"
for side in "${sides[@]}"; do
    awk -v c="${cpu[$side]}" -v n="${reqs[$side]}" -v ms="${secs[$side]}" -v hz="$hz" -v s="$side" -v l="${label[$side]}" -v rc="${rcpu[$side]}" 'BEGIN {
        r = (s == "local") ? "-" : sprintf("%.2f", rc / hz * 1e6 / n)
        printf "| %s | %d | %.0f | %.2f | %s |\n", l, n, n / (ms / 1000), c / hz * 1e6 / n, r }'
done
for side in "${sides[@]:1}"; do
    awk -v a="${cpu[local]}" -v na="${reqs[local]}" -v b="${cpu[$side]}" -v nb="${reqs[$side]}" -v hz="$hz" -v l="${label[$side]}" \
        'BEGIN { printf "\n%s costs %+.2f µs of gateway CPU per request over in-process.\n", l, (b / nb - a / na) / hz * 1e6 }'
done
[[ $REDIS_TRANSPORT == both ]] && exit 0 # the two-gateway phase needs a free third port

# Two gateways sharing the Redis (and the SQLite file), driven at once.
redis_gw=${gw[$redis_side]}
start "$SECOND_GATEWAY_PORT" APIGATE_REDIS_URL="$redis_url"
second_gw=$started
b1=$(ticks "$redis_gw"); b2=$(ticks "$second_gw"); rb=$(ticks "$redis")
wrk_run "$REDIS_GATEWAY_PORT" >"$TMP_DIR/n1" &
w1=$!
wrk_run "$SECOND_GATEWAY_PORT" >"$TMP_DIR/n2" &
w2=$!
wait "$w1" "$w2"
n1=$(<"$TMP_DIR/n1"); n2=$(<"$TMP_DIR/n2")
a1=$(ticks "$redis_gw"); a2=$(ticks "$second_gw"); ra=$(ticks "$redis")
awk -v n1="$n1" -v n2="$n2" -v c=$((a1 - b1 + a2 - b2)) -v rc=$((ra - rb)) -v d="$DURATION" -v hz="$hz" 'BEGIN {
    n = n1 + n2
    printf "\nTwo gateways, one Redis, both driven for %ss: %.0f req/s together (%.0f + %.0f), gateway CPU %.2f µs/request, redis-server CPU %.2f µs/request\n",
        d, n / d, n1 / d, n2 / d, c / hz * 1e6 / n, rc / hz * 1e6 / n }'
