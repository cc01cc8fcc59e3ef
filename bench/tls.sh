#!/usr/bin/env bash
# TLS termination cost per request, keep-alive: APIGate and nginx, each over plain HTTP and over HTTPS, in front of the
# same static upstream, measured as CPU time per request (utime+stime from /proc) summed over short interleaved rounds
# (throughput on a shared 2-core VM drifts; CPU per request over alternating rounds does not drift with it).
#
#   bench/tls.sh                        # 4 rounds x 3 s per target
#   ROUNDS=10 DURATION=5 bench/tls.sh
#
# The certificate is a throw-away ECDSA P-256 one made here with openssl (wrk does not verify it). Both servers offer
# TLS 1.2 and 1.3 and negotiate the same (TLS 1.3 with wrk's OpenSSL); wrk keeps its connections, so a handshake
# happens once per connection and the figure is the per-request record encryption plus what TLS adds to each read/write.
# Everything runs on 127.0.0.1; everything started is stopped by PID on exit; every wrk run is bounded.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-3}
CONNECTIONS=${CONNECTIONS:-32}
UPSTREAM_PORT=${UPSTREAM_PORT:-28281}
# Not UPSTREAM_PORT+4: ab-common.sh puts the upstream's h2c server there.
APIGATE_HTTP_PORT=${APIGATE_HTTP_PORT:-28291}
APIGATE_HTTPS_PORT=${APIGATE_HTTPS_PORT:-28292}
NGINX_HTTP_PORT=${NGINX_HTTP_PORT:-28293}
NGINX_HTTPS_PORT=${NGINX_HTTPS_PORT:-28294}
# shellcheck source=bench/ab-common.sh
source "$REPO_DIR/bench/ab-common.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$TMP_DIR/tls.key" -out "$TMP_DIR/tls.crt" 2>/dev/null

# nginx: the benchmark's proxy config with a plain and a TLS listener in one worker.
mkdir -p "$TMP_DIR/nginx/tmp"
sed -E -e "s#server 127\.0\.0\.1:18081;#server 127.0.0.1:$UPSTREAM_PORT;#" \
    -e "s#listen 127\.0\.0\.1:18082 reuseport backlog=4096;#listen 127.0.0.1:$NGINX_HTTP_PORT reuseport backlog=4096;\n        listen 127.0.0.1:$NGINX_HTTPS_PORT ssl reuseport backlog=4096;\n        ssl_certificate $TMP_DIR/tls.crt;\n        ssl_certificate_key $TMP_DIR/tls.key;\n        ssl_protocols TLSv1.2 TLSv1.3;#" \
    "$REPO_DIR/bench/nginx/proxy.conf" >"$TMP_DIR/nginx/nginx.conf"
nginx -c "$TMP_DIR/nginx/nginx.conf" -p "$TMP_DIR/nginx/" -e "$TMP_DIR/nginx/error.log" -g 'daemon off;' >/dev/null 2>&1 &
nginx_pid=$!
PIDS+=("$nginx_pid")

# APIGate: one process per scheme (a TLS-enabled listener serves only TLS), one store.
export APIGATE_DATABASE_DSN=$TMP_DIR/tls.db APIGATE_SERVER_HOST=127.0.0.1 APIGATE_LOG_LEVEL=warn APIGATE_ACCESS_LOG=false
cli() { "$APIGATE_BIN" "$@" >>"$TMP_DIR/setup.log" 2>&1; }
cli upstreams create --name up --url "http://127.0.0.1:$UPSTREAM_PORT"
cli routes create --name public --path "/public/*" --upstream up --auth=false
APIGATE_SERVER_PORT=$APIGATE_HTTP_PORT "$APIGATE_BIN" serve >"$TMP_DIR/http.log" 2>&1 &
apigate_http=$!
PIDS+=("$apigate_http")
APIGATE_SERVER_PORT=$APIGATE_HTTPS_PORT APIGATE_TLS_CERT_FILE=$TMP_DIR/tls.crt APIGATE_TLS_KEY_FILE=$TMP_DIR/tls.key \
    "$APIGATE_BIN" serve >"$TMP_DIR/https.log" 2>&1 &
apigate_https=$!
PIDS+=("$apigate_https")
wait_healthy "$APIGATE_HTTP_PORT"
for _ in $(seq 1 60); do curl -fsk "https://127.0.0.1:$APIGATE_HTTPS_PORT/health" >/dev/null && break; sleep 0.5; done
for _ in $(seq 1 20); do curl -fsk "https://127.0.0.1:$NGINX_HTTPS_PORT/x" >/dev/null && break; sleep 0.25; done
for check in "http://127.0.0.1:$APIGATE_HTTP_PORT/health" "https://127.0.0.1:$APIGATE_HTTPS_PORT/health" \
    "http://127.0.0.1:$NGINX_HTTP_PORT/x" "https://127.0.0.1:$NGINX_HTTPS_PORT/x"; do
    curl -fsk "$check" >/dev/null || { echo "not answering: $check (logs in $TMP_DIR)" >&2; cat "$TMP_DIR"/*.log "$TMP_DIR/nginx/error.log" >&2; exit 1; }
done

# proc_ticks PID: CPU ticks of PID and its direct children (nginx's worker).
proc_ticks() {
    local total=0 p
    for p in "$1" $(pgrep -P "$1" 2>/dev/null || true); do total=$((total + $(ticks "$p"))); done
    echo "$total"
}

TARGETS=(apigate-http apigate-https nginx-http nginx-https)
declare -A url=(
    [apigate-http]="http://127.0.0.1:$APIGATE_HTTP_PORT/public/x" [apigate-https]="https://127.0.0.1:$APIGATE_HTTPS_PORT/public/x"
    [nginx-http]="http://127.0.0.1:$NGINX_HTTP_PORT/public/x" [nginx-https]="https://127.0.0.1:$NGINX_HTTPS_PORT/public/x")
declare -A pid=([apigate-http]=$apigate_http [apigate-https]=$apigate_https [nginx-http]=$nginx_pid [nginx-https]=$nginx_pid)
declare -A cpu=() requests=() seconds=()
run() { timeout $((DURATION + 10)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$1" | awk '/requests in/ {print $1}'; }
for target in "${TARGETS[@]}"; do run "${url[$target]}" >/dev/null; done # warm-up (JIT, connection pools)
for round in $(seq 1 "$ROUNDS"); do
    for target in "${TARGETS[@]}"; do
        before=$(proc_ticks "${pid[$target]}"); n=$(run "${url[$target]}"); after=$(proc_ticks "${pid[$target]}")
        cpu[$target]=$(( ${cpu[$target]:-0} + after - before ))
        requests[$target]=$(( ${requests[$target]:-0} + n ))
        seconds[$target]=$(( ${seconds[$target]:-0} + DURATION ))
    done
done
hz=$(getconf CLK_TCK)
echo "rounds=$ROUNDS duration=${DURATION}s connections=$CONNECTIONS (wrk -t1, keep-alive)"
for target in "${TARGETS[@]}"; do
    awk -v c="${cpu[$target]}" -v n="${requests[$target]}" -v s="${seconds[$target]}" -v hz="$hz" -v t="$target" \
        'BEGIN { printf "%-14s %9.0f req/s %8.2f us CPU/request over %d requests\n", t, n / s, c / hz * 1e6 / n, n }'
done
