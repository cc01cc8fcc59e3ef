#!/usr/bin/env bash
# CPU per request of gateway variants — builds and/or settings — side by side behind one static nginx upstream,
# measured in short interleaved rounds (like bench/ab-cpu.sh, across processes like bench/ab-telemetry.sh), on the
# public and the authenticated route. Each gateway logs JSON at info level to a file, as in production.
#
#   BASE_BIN=/tmp/base/src/ApiGate.Cli/bin/Release/net10.0/apigate bench/ab-variants.sh   # an older build vs this one
#   VARIANTS="spin|$PWD/src/ApiGate.Cli/bin/Release/net10.0/apigate|DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0" \
#       bench/ab-variants.sh                                                               # this build with a setting
#   ROUTES="private" ROUNDS=10 bench/ab-variants.sh
#
# VARIANTS: `name|binary|KEY=VALUE ...` entries separated by ';' (default: `base` = BASE_BIN when set, and `head` =
# this checkout's Release build). Everything runs on 127.0.0.1; everything started is stopped by PID on exit; every
# wrk run is bounded.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-3}
UPSTREAM_PORT=${UPSTREAM_PORT:-18201}
FIRST_PORT=${FIRST_PORT:-18206}
# shellcheck source=bench/ab-common.sh
source "$REPO_DIR/bench/ab-common.sh"

if [[ -n ${VARIANTS:-} ]]; then
    IFS=';' read -r -a variants <<<"$VARIANTS"
else
    variants=()
    [[ -n ${BASE_BIN:-} ]] && variants+=("base|$BASE_BIN|")
    variants+=("head|$APIGATE_BIN|")
fi
ROUTES=(${ROUTES:-public private})

declare -A pid_of=() port_of=() key_of=() cpu=() requests=() p99s=()
port=$FIRST_PORT
for variant in "${variants[@]}"; do
    IFS='|' read -r name bin settings <<<"$variant"
    db=$TMP_DIR/$name.db
    cli() { APIGATE_DATABASE_DSN=$db "$bin" "$@" >>"$TMP_DIR/setup.log" 2>&1; }
    cli upstreams create --name up --url "http://127.0.0.1:$UPSTREAM_PORT"
    cli routes create --name public --path "/public/*" --upstream up --auth=false
    cli routes create --name private --path "/private/*" --upstream up
    cli plans create --id bench --name Bench --rate-limit 100000000 --requests 0
    cli entitlements create --name webhooks --value-type boolean --default-value true
    cli users create --email ab@example.com --plan bench
    key_of[$name]=$(APIGATE_DATABASE_DSN=$db "$bin" keys create --user ab@example.com --json | grep -o '"key": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
    env $settings APIGATE_DATABASE_DSN="$db" APIGATE_SERVER_HOST=127.0.0.1 APIGATE_SERVER_PORT=$port APIGATE_LOG_LEVEL=info \
        "$bin" serve >"$TMP_DIR/$name.log" 2>&1 &
    PIDS+=("$!")
    pid_of[$name]=$!
    port_of[$name]=$port
    wait_healthy "$port"
    port=$((port + 1))
done

names=()
for variant in "${variants[@]}"; do names+=("${variant%%|*}"); done
run() { # run NAME ROUTE: requests served and the p99 latency in ms
    timeout $((DURATION + 10)) wrk -t2 -c32 -d"${DURATION}s" --latency -H "Authorization: Bearer ${key_of[$1]}" "http://127.0.0.1:${port_of[$1]}/$2/x" \
        | awk '/^ *99%/ { v = $2; m = (v ~ /us$/) ? 0.001 : (v ~ /ms$/) ? 1 : 1000; sub(/[a-z]+$/, "", v); p99 = v * m }
               /requests in/ { n = $1 } END { printf "%d %.2f\n", n, p99 }'
}
for name in "${names[@]}"; do for route in "${ROUTES[@]}"; do run "$name" "$route" >/dev/null; run "$name" "$route" >/dev/null; done; done # warm-up
for round in $(seq 1 "$ROUNDS"); do
    for route in "${ROUTES[@]}"; do
        # rotate the starting variant each round so drift spreads evenly
        for i in "${!names[@]}"; do
            name=${names[$(( (i + round) % ${#names[@]} ))]}
            before=$(ticks "${pid_of[$name]}"); read -r n p99 < <(run "$name" "$route"); after=$(ticks "${pid_of[$name]}")
            p99s[$name/$route]="${p99s[$name/$route]:-} $p99"
            cpu[$name/$route]=$(( ${cpu[$name/$route]:-0} + after - before ))
            requests[$name/$route]=$(( ${requests[$name/$route]:-0} + n ))
        done
    done
done
hz=$(getconf CLK_TCK)
echo "| variant | route | µs CPU / request | req/s | requests | p99 ms (median of rounds) |"
echo "|---|---|---:|---:|---:|---:|"
for route in "${ROUTES[@]}"; do
    for name in "${names[@]}"; do
        p99=$(tr ' ' '\n' <<<"${p99s[$name/$route]}" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
        awk -v c="${cpu[$name/$route]}" -v n="${requests[$name/$route]}" -v hz="$hz" -v v="$name" -v r="$route" -v d="$DURATION" -v k="$ROUNDS" -v p="$p99" \
            'BEGIN { printf "| %s | %s | %.1f | %.0f | %d | %s |\n", v, r, c / hz * 1e6 / n, n / (d * k), n, p }'
    done
done
