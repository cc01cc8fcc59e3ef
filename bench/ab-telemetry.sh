#!/usr/bin/env bash
# CPU per request of metrics + access log: gateways that differ only in those settings (and optionally an older
# build, BASE_BIN) side by side behind one static nginx upstream, measured in short interleaved rounds like
# bench/ab-cpu.sh. Each gateway logs JSON at info level to a file (stdout redirected), as in production.
#
#   bench/ab-telemetry.sh
#   BASE_BIN=/path/to/older/apigate ROUNDS=8 bench/ab-telemetry.sh
#
# Everything runs on 127.0.0.1; everything started is stopped by PID on exit; every wrk run is bounded.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-8}
DURATION=${DURATION:-3}
UPSTREAM_PORT=${UPSTREAM_PORT:-18191}
FIRST_PORT=${FIRST_PORT:-18192}
# shellcheck source=bench/ab-common.sh
source "$REPO_DIR/bench/ab-common.sh"

# name | binary | settings
VARIANTS=("off|$APIGATE_BIN|APIGATE_METRICS_ENABLED=false APIGATE_ACCESS_LOG=false"
          "metrics|$APIGATE_BIN|APIGATE_METRICS_ENABLED=true APIGATE_ACCESS_LOG=false"
          "access|$APIGATE_BIN|APIGATE_METRICS_ENABLED=false APIGATE_ACCESS_LOG=true"
          "on|$APIGATE_BIN|APIGATE_METRICS_ENABLED=true APIGATE_ACCESS_LOG=true")
[[ -n ${BASE_BIN:-} ]] && VARIANTS=("base|$BASE_BIN|" "${VARIANTS[@]}")

declare -A pid_of=() port_of=() cpu=() requests=()
port=$FIRST_PORT
for variant in "${VARIANTS[@]}"; do
    IFS='|' read -r name bin settings <<<"$variant"
    db=$TMP_DIR/$name.db
    cli() { APIGATE_DATABASE_DSN=$db "$bin" "$@" >>"$TMP_DIR/setup.log" 2>&1; }
    cli upstreams create --name up --url "http://127.0.0.1:$UPSTREAM_PORT"
    cli routes create --name public --path "/public/*" --upstream up --auth=false
    env $settings APIGATE_DATABASE_DSN="$db" APIGATE_SERVER_HOST=127.0.0.1 APIGATE_SERVER_PORT=$port APIGATE_LOG_LEVEL=info \
        "$bin" serve >"$TMP_DIR/$name.log" 2>&1 &
    PIDS+=("$!")
    pid_of[$name]=$!
    port_of[$name]=$port
    wait_healthy "$port"
    port=$((port + 1))
done

names=()
for variant in "${VARIANTS[@]}"; do names+=("${variant%%|*}"); done
run() { timeout $((DURATION + 10)) wrk -t2 -c32 -d"${DURATION}s" "http://127.0.0.1:$1/public/x" | awk '/requests in/ {print $1}'; }
for name in "${names[@]}"; do run "${port_of[$name]}" >/dev/null; done # warm-up
for round in $(seq 1 "$ROUNDS"); do
    for name in "${names[@]}"; do
        before=$(ticks "${pid_of[$name]}"); n=$(run "${port_of[$name]}"); after=$(ticks "${pid_of[$name]}")
        cpu[$name]=$(( ${cpu[$name]:-0} + after - before ))
        requests[$name]=$(( ${requests[$name]:-0} + n ))
    done
done
hz=$(getconf CLK_TCK)
for name in "${names[@]}"; do
    lines=$(grep -c '"ApiGate.Access"' "$TMP_DIR/$name.log" || true)
    awk -v c="${cpu[$name]}" -v n="${requests[$name]}" -v hz="$hz" -v r="$name" -v l="$lines" \
        'BEGIN { printf "%-8s %8.2f us CPU/request over %d requests (%d access-log lines)\n", r, c / hz * 1e6 / n, n, l }'
done
