#!/usr/bin/env bash
# Memory per long-lived stream: N concurrent SSE streams (one event every INTERVAL s from the upstream) and N
# WebSocket echo streams (one message every INTERVAL s from the client), held HOLD seconds, through nginx
# (proxy_buffering off, bench/nginx/streams.conf) and through APIGate (a public and a key-protected route, metering
# on: units = sseEvents / wsMessages), one after the other in the same run. For each: RSS (VmRSS of the proxy
# process; nginx's single worker) idle, during, right after and AFTER seconds after the streams end, the per-stream
# difference ("during" is the median of one sample a second over the middle half of the hold), the gateway's managed heap (dotnet_gc_last_collection_heap_size_bytes from /metrics) at the same
# moments, and whether every stream opened and every event arrived.
#
#   bench/streams.sh                                   # N=3000 HOLD=20 AFTER=60, all six scenarios
#   N=10000 bench/streams.sh                           # needs `ulimit -n` > 2 x N (+ slack) for the gateway
#   SCENARIOS="nginx-sse apigate-sse-public" AFTER=10 bench/streams.sh
#   GCDUMP_DIR=/tmp/dumps SCENARIOS=apigate-sse-public bench/streams.sh
#                                                      # a dotnet-gcdump of the gateway a quarter into the hold (forces a
#                                                      # full GC, so the RSS figures of that run are not comparable)
#   GATEWAY_ENV="DOTNET_gcServer=0" bench/streams.sh    # another GC configuration for the gateway
#   UPSTREAM_HTTP=2 N=9000 SCENARIOS=apigate-sse-public bench/streams.sh
#                                                      # the gateway speaks HTTP/2 (h2c) to the SSE and WebSocket
#                                                      # upstreams (bench/StreamUpstream; nginx reaches the same
#                                                      # program over HTTP/1.1): one descriptor per stream, not two
#
# Upstreams and client: bench/streams.py (Python 3 stdlib). Everything on 127.0.0.1; everything started is stopped
# by PID on exit; every wait is bounded. The file-descriptor limit is raised for this script only (soft to hard).
set -euo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-3000}
HOLD=${HOLD:-20}
AFTER=${AFTER:-60}
INTERVAL=${INTERVAL:-2}
SCENARIOS=(${SCENARIOS:-nginx-sse apigate-sse-public apigate-sse-key nginx-ws apigate-ws-public apigate-ws-key})
SSE_PORT=${SSE_PORT:-18291}
WS_PORT=${WS_PORT:-18292}
NGINX_PORT=${NGINX_PORT:-18293}
GATEWAY_PORT=${GATEWAY_PORT:-18294}
GATEWAY_ENV=${GATEWAY_ENV:-}
UPSTREAM_HTTP=${UPSTREAM_HTTP:-1.1} # 2: the SSE upstream is bench/StreamUpstream and the gateway reaches it over h2c
H2_PORT=${H2_PORT:-18295}
WS_H2_PORT=${WS_H2_PORT:-18296}
STREAMS_PY="$REPO_DIR/bench/streams.py"

# Each proxied stream holds two sockets (client and upstream) with HTTP/1.1 upstreams, one (plus one per 100 streams)
# with HTTP/2; raised here only, never by the product.
ulimit -n "$(ulimit -Hn)"
fds=$(ulimit -n)
per_stream=2
[[ $UPSTREAM_HTTP == 2 ]] && per_stream=1
if (( fds < per_stream * N + 500 )); then
    echo "warning: ulimit -n is $fds (hard limit); $N streams need about $((per_stream * N + 500)) descriptors in each proxy" >&2
fi

TMP_PREFIX=apigate-streams
# shellcheck source=bench/prelude.sh
source "$REPO_DIR/bench/prelude.sh"

if [[ $UPSTREAM_HTTP == 2 ]]; then
    [[ ${SKIP_BUILD:-0} == 1 ]] || dotnet build "$REPO_DIR/bench/StreamUpstream" -c Release >/dev/null
    dotnet "$REPO_DIR/bench/StreamUpstream/bin/Release/net10.0/StreamUpstream.dll" --h1-port "$SSE_PORT" --h2-port "$H2_PORT" \
        --interval "$INTERVAL" >"$TMP_DIR/sse-upstream.log" 2>&1 &
    PIDS+=("$!")
    sse_upstream_url="http://127.0.0.1:$H2_PORT" sse_http_version=2
else
    python3 "$STREAMS_PY" sse-upstream --port "$SSE_PORT" --interval "$INTERVAL" >"$TMP_DIR/sse-upstream.log" 2>&1 &
    PIDS+=("$!")
    sse_upstream_url="http://127.0.0.1:$SSE_PORT" sse_http_version=1.1
fi
if [[ $UPSTREAM_HTTP == 2 ]]; then
    # The same program echoes WebSocket messages: nginx reaches it over HTTP/1.1 on WS_PORT, the gateway over h2c
    # (RFC 8441 extended CONNECT) on WS_H2_PORT.
    dotnet "$REPO_DIR/bench/StreamUpstream/bin/Release/net10.0/StreamUpstream.dll" --h1-port "$WS_PORT" --h2-port "$WS_H2_PORT" \
        >"$TMP_DIR/ws-upstream.log" 2>&1 &
    PIDS+=("$!")
    ws_upstream_url="http://127.0.0.1:$WS_H2_PORT"
else
    python3 "$STREAMS_PY" ws-upstream --port "$WS_PORT" >"$TMP_DIR/ws-upstream.log" 2>&1 &
    PIDS+=("$!")
    ws_upstream_url="http://127.0.0.1:$WS_PORT"
fi

mkdir -p "$TMP_DIR/nginx/tmp"
sed -e "s/127\.0\.0\.1:18283/127.0.0.1:$NGINX_PORT/" -e "s/127\.0\.0\.1:18281/127.0.0.1:$SSE_PORT/" \
    -e "s/127\.0\.0\.1:18282/127.0.0.1:$WS_PORT/" -e "s/worker_rlimit_nofile .*/worker_rlimit_nofile $fds;/" \
    -e "s/worker_connections .*/worker_connections $((fds - 100));/" \
    "$REPO_DIR/bench/nginx/streams.conf" >"$TMP_DIR/nginx/nginx.conf"

export APIGATE_DATABASE_DSN=$TMP_DIR/streams.db APIGATE_SERVER_HOST=127.0.0.1 APIGATE_SERVER_PORT=$GATEWAY_PORT APIGATE_LOG_LEVEL=warn
cli() { "$APIGATE_BIN" "$@" >>"$TMP_DIR/setup.log" 2>&1; }
cli upstreams create --name sse --url "$sse_upstream_url" --http-version "$sse_http_version"
cli upstreams create --name ws --url "$ws_upstream_url" --http-version "$sse_http_version"
cli routes create --name sse-public --path "/sse/*" --upstream sse --protocol sse --auth=false --metering-mode custom --metering-expr sseEvents
cli routes create --name sse-key --path "/sse-key/*" --upstream sse --protocol sse --metering-mode custom --metering-expr sseEvents
cli routes create --name ws-public --path "/ws/*" --upstream ws --protocol websocket --auth=false --metering-mode custom --metering-expr wsMessages
cli routes create --name ws-key --path "/ws-key/*" --upstream ws --protocol websocket --metering-mode custom --metering-expr wsMessages
cli plans create --id streams --name Streams --rate-limit 0 --requests 0
cli users create --email streams@example.com --plan streams
key=$("$APIGATE_BIN" keys create --user streams@example.com --json | grep -o '"key": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')

wait_port() { # any HTTP answer
    for _ in $(seq 1 60); do [[ $(curl -s -o /dev/null -w '%{http_code}' "$1") != 000 ]] && return 0; sleep 0.5; done
    echo "not answering: $1" >&2; return 1
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
heap_kib() { # the gateway's managed heap after its last GC (every generation), or - for nginx
    [[ $1 == nginx ]] && { echo -; return; }
    curl -fs "http://127.0.0.1:$GATEWAY_PORT/metrics" | awk '/^dotnet_gc_last_collection_heap_size_bytes/ {s += $2} END {printf "%d\n", s / 1024}'
}
mib() { [[ $1 == - ]] && echo - || awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }

# run_client MODE PATH [KEY]: N streams for HOLD seconds; samples "during" halfway through the hold.
run_client() {
    local out=$TMP_DIR/client.out
    : >"$out"
    python3 "$STREAMS_PY" client --mode "$1" --port "$port" --path "$2" --key "${3:-}" --n "$N" --hold "$HOLD" \
        --interval "$INTERVAL" >"$out" 2>"$TMP_DIR/client.err" &
    local client=$!
    PIDS+=("$client")
    for _ in $(seq 1 $((2 * (150 + N / 20)))); do grep -q '^OPEN' "$out" && break; sleep 0.5; done
    # "During": the median of one RSS sample a second over the middle half of the hold (a single sample lands at a
    # random point of the GC cycle), and the heap halfway through.
    sleep "$(awk -v h="$HOLD" 'BEGIN {print h / 4}')"
    local samples=() i
    during_heap=-
    for ((i = 0; i < (HOLD + 1) / 2; i++)); do
        samples+=("$(rss_kib "$pid")")
        (( i == HOLD / 4 )) && during_heap=$(heap_kib "$kind")
        if (( i == HOLD / 4 )) && [[ -n ${GCDUMP_DIR:-} && $kind == apigate ]]; then
            # A heap snapshot (forces a full GC: the RSS samples after it are not comparable).
            dotnet-gcdump collect -p "$pid" -o "$GCDUMP_DIR/$scenario.gcdump" >/dev/null 2>&1 || echo "  gcdump of $scenario failed" >&2
        fi
        sleep 1
    done
    during_rss=$(printf '%s\n' "${samples[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    for _ in $(seq 1 $((2 * (HOLD + 120)))); do kill -0 "$client" 2>/dev/null || break; sleep 0.5; done
    kill "$client" 2>/dev/null || true
    wait "$client" 2>/dev/null || true
    result=$(tail -n 1 "$out")
}

printf '\nN=%s streams, HOLD=%ss, one event/message every %ss, AFTER=%ss, ulimit -n %s, GATEWAY_ENV=%s, gateway to upstreams: HTTP/%s\n' \
    "$N" "$HOLD" "$INTERVAL" "$AFTER" "$fds" "${GATEWAY_ENV:-(none)}" "$sse_http_version"
printf '| scenario | open at hold (+opened later) | received (ws: /sent) | gaps | dropped | RSS idle MiB | during | after 0 s | after %s s | KiB/stream | heap idle MiB | during | after %s s |\n' "$AFTER" "$AFTER"
echo '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
for scenario in "${SCENARIOS[@]}"; do
    case $scenario in
        nginx-sse) kind=nginx mode=sse path=/sse/stream k= ;;
        nginx-ws) kind=nginx mode=ws path=/ws/stream k= ;;
        apigate-sse-public) kind=apigate mode=sse path=/sse/stream k= ;;
        apigate-sse-key) kind=apigate mode=sse path=/sse-key/stream k=$key ;;
        apigate-ws-public) kind=apigate mode=ws path=/ws/stream k= ;;
        apigate-ws-key) kind=apigate mode=ws path=/ws-key/stream k=$key ;;
        *) echo "unknown scenario $scenario" >&2; exit 2 ;;
    esac
    gateway=
    if [[ $kind == nginx ]]; then
        # A fresh nginx per scenario, like the gateway: a worker that served earlier streams reuses that memory.
        port=$NGINX_PORT
        nginx -c "$TMP_DIR/nginx/nginx.conf" -p "$TMP_DIR/nginx/" -e "$TMP_DIR/nginx/error.log" -g 'daemon off;' >/dev/null 2>&1 &
        gateway=$!
        PIDS+=("$gateway")
        wait_port "http://127.0.0.1:$NGINX_PORT/" || true
        pid=$(pgrep -P "$gateway" | head -n 1)
    else
        port=$GATEWAY_PORT
        env $GATEWAY_ENV "$APIGATE_BIN" serve >"$TMP_DIR/serve-$scenario.log" 2>&1 &
        gateway=$!
        PIDS+=("$gateway")
        pid=$gateway
        wait_port "http://127.0.0.1:$GATEWAY_PORT/health"
    fi
    # Warm-up: a few streams through the same route (JIT, connection set-up), then the idle figure.
    python3 "$STREAMS_PY" client --mode "$mode" --port "$port" --path "$path" --key "$k" --n 20 --hold 2 \
        --interval "$INTERVAL" >/dev/null 2>&1 || true
    sleep 3
    idle_rss=$(rss_kib "$pid"); idle_heap=$(heap_kib "$kind")
    run_client "$mode" "$path" "$k"
    after0_rss=$(rss_kib "$pid")
    sleep "$AFTER"
    after_rss=$(rss_kib "$pid"); after_heap=$(heap_kib "$kind")
    fields=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(str(r["open_at_hold"]) + ("" if r["opened"] == r["open_at_hold"] else "+%d_late" % (r["opened"] - r["open_at_hold"])), str(r["received"]) + ("/%d" % r["sent"] if r["mode"] == "ws" else ""), r["gaps"], r["dropped"], r["failed"])' "$result" 2>/dev/null || echo "? ? ? ? ?")
    read -r opened received gaps dropped failed <<<"$fields"
    per_stream=$(awk -v d="$during_rss" -v i="$idle_rss" -v n="$N" 'BEGIN {printf "%.1f", (d - i) / n}')
    printf '| %s | %s/%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$scenario" "$opened" "$N" "$received" \
        "$gaps" "$dropped" "$(mib "$idle_rss")" "$(mib "$during_rss")" "$(mib "$after0_rss")" "$(mib "$after_rss")" "$per_stream" \
        "$(mib "$idle_heap")" "$(mib "$during_heap")" "$(mib "$after_heap")"
    [[ $failed == 0 ]] || echo "  $scenario: $failed streams failed to open: $result" >&2
    if [[ -n $gateway ]]; then
        kill "$gateway" 2>/dev/null || true
        wait "$gateway" 2>/dev/null || true
    fi
done
