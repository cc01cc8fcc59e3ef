# Shared set-up of the A/B scripts (ab-cpu, ab-telemetry, ab-variants, alloc, failover, redis-limits); sourced, not run.
# Needs REPO_DIR and UPSTREAM_PORT. Gives TMP_DIR, APIGATE_BIN, PIDS (stopped by PID on exit), a Release build of the
# CLI (unless SKIP_BUILD=1), a static nginx upstream on 127.0.0.1:$UPSTREAM_PORT, and the helpers below.
TMP_PREFIX=apigate-ab
# shellcheck source=bench/prelude.sh
source "$REPO_DIR/bench/prelude.sh"

mkdir -p "$TMP_DIR/up/tmp"
# The HTTP/1.1 server on UPSTREAM_PORT, the h2c one (18085 in upstream.conf) on UPSTREAM_PORT+4: two servers on one
# port would stop nginx from starting.
sed -E -e "s/listen[[:space:]]+127\.0\.0\.1:18081/listen 127.0.0.1:$UPSTREAM_PORT/" \
    -e "s/listen[[:space:]]+127\.0\.0\.1:18085/listen 127.0.0.1:$((UPSTREAM_PORT + 4))/" \
    "$REPO_DIR/bench/nginx/upstream.conf" >"$TMP_DIR/up/nginx.conf"
nginx -c "$TMP_DIR/up/nginx.conf" -p "$TMP_DIR/up/" -e "$TMP_DIR/up/error.log" -g 'daemon off;' >/dev/null 2>&1 &
PIDS+=("$!")

# wait_healthy PORT: waits (at most 30 s) until a gateway on PORT answers /health.
wait_healthy() {
    for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:$1/health" >/dev/null && break; sleep 0.5; done
}

# ticks PID: CPU time (user + system, in clock ticks) the process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
