# Shared set-up of the A/B CPU scripts (bench/ab-cpu.sh, bench/ab-telemetry.sh); sourced, not run.
# Needs REPO_DIR and UPSTREAM_PORT. Gives TMP_DIR, APIGATE_BIN, PIDS (stopped by PID on exit), a Release build of the
# CLI (unless SKIP_BUILD=1) and a static nginx upstream on 127.0.0.1:$UPSTREAM_PORT.
APIGATE_BIN=$REPO_DIR/src/ApiGate.Cli/bin/Release/net10.0/apigate
TMP_DIR=$(mktemp -d /tmp/apigate-ab.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP_DIR"
}
trap cleanup EXIT

[[ ${SKIP_BUILD:-0} == 1 ]] || dotnet build "$REPO_DIR/src/ApiGate.Cli" -c Release >/dev/null

mkdir -p "$TMP_DIR/up/tmp"
sed -E "s/listen[[:space:]]+127\.0\.0\.1:[0-9]+/listen 127.0.0.1:$UPSTREAM_PORT/" "$REPO_DIR/bench/nginx/upstream.conf" >"$TMP_DIR/up/nginx.conf"
nginx -c "$TMP_DIR/up/nginx.conf" -p "$TMP_DIR/up/" -e "$TMP_DIR/up/error.log" -g 'daemon off;' >/dev/null 2>&1 &
PIDS+=("$!")
