#!/usr/bin/env bash
# End-to-end HTTP benchmark: static nginx upstream, plain nginx proxy, bare YARP
# and APIGate, measured with wrk in interleaved rounds. See bench/README.md.
#
# Usage:  bench/run.sh
# Knobs (environment variables, defaults in brackets):
#   TARGETS              targets to run, space separated  [direct nginx yarp apigate-public apigate-auth apigate-transform]
#   ROUNDS               measured rounds                  [3]
#   DURATION             seconds per measured wrk run     [10]
#   CONNECTIONS          wrk -c                           [32]
#   THREADS              wrk -t                           [2]
#   WARMUP               seconds of warm-up per target    [2]   (0 = none)
#   COOLDOWN             seconds of pause between runs    [1]
#   GATEWAY_ENV          extra KEY=VALUE pairs (space separated) for BOTH .NET
#                        proxies (BareYarp and APIGate)  []
#   APIGATE_ENV          extra KEY=VALUE pairs for APIGate only (after GATEWAY_ENV) []
#   NGINX_PROXY_WORKERS  worker_processes of the nginx proxy  [1]  (e.g. auto)
#   NGINX_UPSTREAM_WORKERS worker_processes of the upstream   [1]
#   SKIP_BUILD           1 = don't run dotnet build      [0]
#   READY_TIMEOUT        seconds to wait for each server  [30]
#   RESULTS_DIR          where latest.md / latest-raw.log go [bench/results]
#   KEEP_TMP             1 = keep the temp dir (logs, db, nginx prefixes) [0]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
DURATION=${DURATION%s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2}
WARMUP=${WARMUP%s}
COOLDOWN=${COOLDOWN:-1}
TARGETS=${TARGETS:-"direct nginx yarp apigate-public apigate-auth apigate-transform"}
GATEWAY_ENV=${GATEWAY_ENV:-}
APIGATE_ENV=${APIGATE_ENV:-}
NGINX_PROXY_WORKERS=${NGINX_PROXY_WORKERS:-1}
NGINX_UPSTREAM_WORKERS=${NGINX_UPSTREAM_WORKERS:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
READY_TIMEOUT=${READY_TIMEOUT:-30}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
KEEP_TMP=${KEEP_TMP:-0}

UPSTREAM_PORT=18081
NGINX_PORT=18082
YARP_PORT=18083
APIGATE_PORT=18084
UPSTREAM_H2C_PORT=18085 # the static upstream's second server: the same answer over h2c (bench/nginx/upstream.conf)

BAREYARP_BIN=$BENCH_DIR/BareYarp/bin/Release/net10.0/BareYarp
APIGATE_BIN=$REPO_DIR/src/ApiGate.Cli/bin/Release/net10.0/apigate

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Target registry.  add_target NAME URL SERVER [extra wrk args...]
#   SERVER is the process whose CPU is attributed to the target (one of the
#   servers below: upstream, nginx, yarp, apigate); it is started on demand.
#   Extra args are passed to wrk AND to the curl pre-flight check, so keep them
#   to options both understand, i.e. -H 'Name: value' pairs.
# To add a target (e.g. an authenticated APIGate route), add one line here and,
# if it needs gateway configuration, the matching CLI calls in
# setup_apigate_config() below. Args only known after setup (an API key) are
# set there with set_target_args, e.g.:
#   add_target apigate-auth "http://127.0.0.1:$APIGATE_PORT/private/hello" apigate
#   # in setup_apigate_config(), after creating the key:
#   set_target_args apigate-auth -H "Authorization: Bearer $key"
# ---------------------------------------------------------------------------
declare -A T_URL=() T_SERVER=() T_ARGS=()
ALL_TARGETS=()
add_target() {
    local name=$1 url=$2 server=$3
    shift 3
    T_URL[$name]=$url
    T_SERVER[$name]=$server
    ALL_TARGETS+=("$name")
    set_target_args "$name" "$@"
}
# set_target_args NAME [extra wrk args...]: (re)set a target's extra args, e.g.
# from setup_apigate_config() once an API key is known.
set_target_args() {
    local name=$1
    shift
    T_ARGS[$name]=""
    (($# == 0)) || T_ARGS[$name]=$(printf '%q ' "$@")
}
add_target direct         "http://127.0.0.1:$UPSTREAM_PORT/"           upstream
add_target nginx          "http://127.0.0.1:$NGINX_PORT/"              nginx
add_target yarp           "http://127.0.0.1:$YARP_PORT/"               yarp
add_target apigate-public "http://127.0.0.1:$APIGATE_PORT/bench/hello" apigate
add_target apigate-auth   "http://127.0.0.1:$APIGATE_PORT/private/hello" apigate
add_target apigate-transform "http://127.0.0.1:$APIGATE_PORT/xform/hello" apigate
# The public route to the same nginx over cleartext HTTP/2 (upstream http_version 2); not in the default TARGETS:
#   TARGETS="apigate-public apigate-h2c" bench/run.sh
add_target apigate-h2c    "http://127.0.0.1:$APIGATE_PORT/h2c/hello"  apigate

# APIGate configuration (only run when an apigate target is selected), through
# the gateway CLI against a fresh database in the temp dir.
setup_apigate_config() {
    apigate_cli upstreams create --name bench-upstream --url "http://127.0.0.1:$UPSTREAM_PORT"
    apigate_cli routes create --name bench-public --path "/bench/*" --upstream bench-upstream --auth=false
    apigate_cli upstreams create --name bench-upstream-h2c --url "http://127.0.0.1:$UPSTREAM_H2C_PORT" --http-version 2
    apigate_cli routes create --name bench-h2c --path "/h2c/*" --upstream bench-upstream-h2c --auth=false
    # Authenticated, rate-limited and quota-counted route: limits high enough never to reject during a run.
    apigate_cli routes create --name bench-private --path "/private/*" --upstream bench-upstream --auth=true
    # The authenticated route plus two header transforms and a JavaScript path-rewrite expression.
    apigate_cli routes create --name bench-transform --path "/xform/*" --upstream bench-upstream --auth=true \
        --request-transform '{"headers":{"add":{"X-Source":"apigate"},"set":{"X-Trace":"${request_id}"}}}' \
        --path-rewrite "'/rewritten' + path"
    apigate_cli plans create --id bench --name Bench --rate-limit 100000000 --requests 0
    apigate_cli entitlements create --name webhooks --value-type boolean --default-value true
    apigate_cli users create --email bench@example.com --plan bench
    local key
    key=$(env "${GATEWAY_ENV_ARR[@]}" "$APIGATE_BIN" keys create --user bench@example.com --json 2>>"$TMP_DIR/apigate-setup.log" \
        | grep -o '"key": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
    [[ -n $key ]] || die "could not create a benchmark API key"
    set_target_args apigate-auth -H "Authorization: Bearer $key"
    set_target_args apigate-transform -H "Authorization: Bearer $key"
}
# apigate_cli ARGS...: run one CLI command (with APIGATE_* and GATEWAY_ENV), die on failure
apigate_cli() {
    echo "+ apigate $*" >>"$TMP_DIR/apigate-setup.log"
    env "${GATEWAY_ENV_ARR[@]}" "$APIGATE_BIN" "$@" >>"$TMP_DIR/apigate-setup.log" 2>&1 || {
        cat "$TMP_DIR/apigate-setup.log" >&2
        die "'apigate $*' failed"
    }
}

# ---------------------------------------------------------------------------
# Process bookkeeping: everything started is recorded by PID and stopped on exit.
# ---------------------------------------------------------------------------
declare -A SERVER_PID=()
STARTED_PIDS=()
TMP_DIR=$(mktemp -d /tmp/apigate-bench.XXXXXX)

cleanup() {
    local rc=$? pid kids=() k i
    trap - EXIT INT TERM
    for pid in "${STARTED_PIDS[@]}"; do
        # remember children (nginx workers) so they can be killed if the master hangs
        while read -r k; do [[ -n $k ]] && kids+=("$k"); done < <(pgrep -P "$pid" 2>/dev/null || true)
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED_PIDS[@]}"; do
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            log "PID $pid did not stop after TERM, sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    for k in "${kids[@]}"; do kill -KILL "$k" 2>/dev/null || true; done
    if [[ $KEEP_TMP == 1 || $rc -ne 0 ]]; then
        log "temp dir kept: $TMP_DIR"
    else
        rm -rf "$TMP_DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ready NAME PID URL  -- bounded wait until URL answers 2xx
wait_ready() {
    local name=$1 pid=$2 url=$3 deadline=$((SECONDS + READY_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name (PID $pid) exited during start-up; log:"
            tail -n 40 "$TMP_DIR/$name.log" >&2 || true
            die "$name failed to start"
        fi
        curl -fs -o /dev/null --max-time 2 "$url" && return 0
        sleep 0.2
    done
    tail -n 40 "$TMP_DIR/$name.log" >&2 || true
    die "$name not ready at $url after ${READY_TIMEOUT}s"
}

# GATEWAY_ENV as an array of KEY=VALUE words (passed via env(1))
read -r -a GATEWAY_ENV_ARR <<<"$GATEWAY_ENV"
read -r -a APIGATE_ENV_ARR <<<"$APIGATE_ENV"
# The gateway warns about unknown APIGATE_* variables: this one is the script's own, not a setting.
unset APIGATE_ENV
for kv in "${GATEWAY_ENV_ARR[@]}" "${APIGATE_ENV_ARR[@]}"; do
    [[ $kv == *=* ]] || die "GATEWAY_ENV/APIGATE_ENV entry '$kv' is not KEY=VALUE"
done

start_nginx_instance() { # NAME CONF WORKERS PORT
    local name=$1 conf=$2 workers=$3 port=$4 prefix=$TMP_DIR/$1
    port_in_use "$port" && die "port $port already in use (needed by $name)"
    mkdir -p "$prefix/tmp"
    sed -E "s/^worker_processes[[:space:]]+[^;]+;/worker_processes $workers;/" "$conf" >"$prefix/nginx.conf"
    nginx -q -t -c "$prefix/nginx.conf" -p "$prefix/" -e "$prefix/error.log" -g 'daemon off;' \
        || die "nginx config test failed for $name"
    nginx -c "$prefix/nginx.conf" -p "$prefix/" -e "$prefix/error.log" -g 'daemon off;' \
        >"$TMP_DIR/$name.log" 2>&1 &
    SERVER_PID[$name]=$!
    STARTED_PIDS+=("$!")
    wait_ready "$name" "$!" "http://127.0.0.1:$port/"
    log "$name: nginx PID ${SERVER_PID[$name]} on 127.0.0.1:$port (worker_processes $workers)"
}

start_upstream() { start_nginx_instance upstream "$BENCH_DIR/nginx/upstream.conf" "$NGINX_UPSTREAM_WORKERS" "$UPSTREAM_PORT"; }
start_nginx()    { start_nginx_instance nginx    "$BENCH_DIR/nginx/proxy.conf"    "$NGINX_PROXY_WORKERS"    "$NGINX_PORT"; }

start_yarp() {
    port_in_use "$YARP_PORT" && die "port $YARP_PORT already in use (needed by yarp)"
    [[ -x $BAREYARP_BIN ]] || die "BareYarp binary missing: $BAREYARP_BIN"
    env "${GATEWAY_ENV_ARR[@]}" \
        BAREYARP_URL="http://127.0.0.1:$YARP_PORT" \
        BAREYARP_DESTINATION="http://127.0.0.1:$UPSTREAM_PORT" \
        "$BAREYARP_BIN" >"$TMP_DIR/yarp.log" 2>&1 &
    SERVER_PID[yarp]=$!
    STARTED_PIDS+=("$!")
    wait_ready yarp "$!" "http://127.0.0.1:$YARP_PORT/"
    log "yarp: BareYarp PID ${SERVER_PID[yarp]} on 127.0.0.1:$YARP_PORT"
}

start_apigate() {
    port_in_use "$APIGATE_PORT" && die "port $APIGATE_PORT already in use (needed by apigate)"
    [[ -x $APIGATE_BIN ]] || die "APIGate binary missing: $APIGATE_BIN"
    export APIGATE_DATABASE_DSN=$TMP_DIR/bench.db
    export APIGATE_SERVER_HOST=127.0.0.1
    export APIGATE_SERVER_PORT=$APIGATE_PORT
    export APIGATE_LOG_LEVEL=warning
    setup_apigate_config
    env "${GATEWAY_ENV_ARR[@]}" "${APIGATE_ENV_ARR[@]}" "$APIGATE_BIN" serve >"$TMP_DIR/apigate.log" 2>&1 &
    SERVER_PID[apigate]=$!
    STARTED_PIDS+=("$!")
    wait_ready apigate "$!" "http://127.0.0.1:$APIGATE_PORT/health"
    log "apigate: PID ${SERVER_PID[apigate]} on 127.0.0.1:$APIGATE_PORT"
}

# ---------------------------------------------------------------------------
# CPU accounting from /proc
# ---------------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)

# utime+stime (ticks) of PID and its direct children (nginx workers)
proc_ticks() {
    local pid=$1 total=0 p rest f
    for p in "$pid" $(pgrep -P "$pid" 2>/dev/null || true); do
        [[ -r /proc/$p/stat ]] || continue
        rest=$(</proc/"$p"/stat) || continue
        rest=${rest##*) }          # drop "pid (comm) ", comm may contain spaces
        read -r -a f <<<"$rest"    # f[0]=state ... f[11]=utime f[12]=stime
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}
# busy ticks of the whole box (all CPUs)
box_ticks() {
    local cpu user nice system idle iowait irq softirq steal rest
    # shellcheck disable=SC2034  # cpu/idle/iowait are read only to skip them
    read -r cpu user nice system idle iowait irq softirq steal rest </proc/stat
    echo $((user + nice + system + irq + softirq + steal))
}
now_ns() { date +%s%N; }

# ---------------------------------------------------------------------------
# wrk runs
# ---------------------------------------------------------------------------
kv() { # KEY LINE -> value of KEY=... in LINE
    local k=$1 line=$2
    [[ $line =~ (^|[[:space:]])$k=([^[:space:]]+) ]] && echo "${BASH_REMATCH[2]}"
}

RAW_LOG=$TMP_DIR/raw.log
RUNS_TSV=$TMP_DIR/runs.tsv
: >"$RAW_LOG"
: >"$RUNS_TSV"

run_wrk() { # TARGET SECONDS -> prints WRK_RESULT line
    local name=$1 secs=$2 extra=() out
    eval "extra=(${T_ARGS[$name]})"
    out=$(timeout -k 5 $((secs + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout 5s \
        -s "$BENCH_DIR/wrk-report.lua" "${extra[@]}" "${T_URL[$name]}" 2>&1) \
        || { echo "$out" >&2; die "wrk failed for $name"; }
    printf '### %s %ss\n%s\n' "$name" "$secs" "$out" >>"$RAW_LOG"
    grep '^WRK_RESULT' <<<"$out" || { echo "$out" >&2; die "no WRK_RESULT line for $name"; }
}

measure() { # ROUND TARGET
    local round=$1 name=$2 server=${T_SERVER[$2]}
    local spid=${SERVER_PID[$server]} upid=${SERVER_PID[upstream]}
    local s0 u0 b0 t0 s1 u1 b1 t1 line wall
    s0=$(proc_ticks "$spid"); u0=$(proc_ticks "$upid"); b0=$(box_ticks); t0=$(now_ns)
    line=$(run_wrk "$name" "$DURATION")
    t1=$(now_ns); b1=$(box_ticks); s1=$(proc_ticks "$spid"); u1=$(proc_ticks "$upid")
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    local srv_cores up_cores box_cores
    srv_cores=$(awk -v d=$((s1 - s0)) -v w="$wall" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d / hz / w }')
    up_cores=$(awk -v d=$((u1 - u0)) -v w="$wall" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d / hz / w }')
    box_cores=$(awk -v d=$((b1 - b0)) -v w="$wall" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d / hz / w }')
    [[ $server == upstream ]] && up_cores=$srv_cores
    local rps p50 p99 errors non2xx
    rps=$(kv rps "$line"); p50=$(kv p50_us "$line"); p99=$(kv p99_us "$line")
    errors=$(kv errors "$line"); non2xx=$(kv non2xx "$line")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$round" "$name" "$rps" "$p50" "$p99" "$errors" "$non2xx" "$srv_cores" "$up_cores" "$box_cores" >>"$RUNS_TSV"
    log "$(printf 'round %s %-16s %10.0f req/s  p50 %6.2f ms  p99 %6.2f ms  cores: server %s upstream %s box %s  errors %s non2xx %s' \
        "$round" "$name" "$rps" "$(awk -v v="$p50" 'BEGIN{print v/1000}')" "$(awk -v v="$p99" 'BEGIN{print v/1000}')" \
        "$srv_cores" "$up_cores" "$box_cores" "$errors" "$non2xx")"
    ((errors == 0 && non2xx == 0)) || log "WARNING: $name had $errors socket errors and $non2xx non-2xx responses"
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
command -v wrk >/dev/null || die "wrk not installed (apt-get install -y wrk)"
command -v nginx >/dev/null || die "nginx not installed (apt-get install -y nginx)"

read -r -a SELECTED <<<"$TARGETS"
((${#SELECTED[@]} > 0)) || die "TARGETS is empty"
declare -A NEED=([upstream]=1)
for t in "${SELECTED[@]}"; do
    [[ -n ${T_URL[$t]:-} ]] || die "unknown target '$t' (known: ${ALL_TARGETS[*]})"
    NEED[${T_SERVER[$t]}]=1
done

if [[ $SKIP_BUILD != 1 ]]; then
    if [[ -n ${NEED[yarp]:-} ]]; then
        log "building BareYarp (Release)"
        dotnet build "$BENCH_DIR/BareYarp" -c Release -nologo -v q >"$TMP_DIR/build-bareyarp.log" 2>&1 \
            || { tail -n 30 "$TMP_DIR/build-bareyarp.log" >&2; die "BareYarp build failed"; }
    fi
    if [[ -n ${NEED[apigate]:-} ]]; then
        log "building APIGate (Release)"
        dotnet build "$REPO_DIR/src/ApiGate.Cli" -c Release -nologo -v q >"$TMP_DIR/build-apigate.log" 2>&1 \
            || { tail -n 30 "$TMP_DIR/build-apigate.log" >&2; die "APIGate build failed"; }
    fi
fi

start_upstream
[[ -n ${NEED[nginx]:-} ]] && start_nginx
[[ -n ${NEED[yarp]:-} ]] && start_yarp
[[ -n ${NEED[apigate]:-} ]] && start_apigate

# pre-flight: every target must answer 2xx with the exact wrk headers
for t in "${SELECTED[@]}"; do
    eval "extra=(${T_ARGS[$t]})"
    curl -fsS -o /dev/null --max-time 5 "${extra[@]}" "${T_URL[$t]}" \
        || die "pre-flight request to $t (${T_URL[$t]}) failed"
done

log "targets: ${SELECTED[*]} | rounds $ROUNDS x ${DURATION}s | wrk -t$THREADS -c$CONNECTIONS | warm-up ${WARMUP}s | GATEWAY_ENV='${GATEWAY_ENV}'"
if ((WARMUP > 0)); then
    for t in "${SELECTED[@]}"; do
        log "warm-up $t (${WARMUP}s)"
        run_wrk "$t" "$WARMUP" >/dev/null
        sleep "$COOLDOWN"
    done
fi

n=${#SELECTED[@]}
for ((r = 1; r <= ROUNDS; r++)); do
    # rotate the start target each round so no target is always first/last
    for ((i = 0; i < n; i++)); do
        measure "$r" "${SELECTED[$(((i + r - 1) % n))]}"
        sleep "$COOLDOWN"
    done
done

# ---------------------------------------------------------------------------
# Aggregate: median over rounds per target
# ---------------------------------------------------------------------------
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v t="$1" -v c="$2" '$2 == t { print $c }' "$RUNS_TSV"; }

declare -A M_RPS=() M_P50=() M_P99=()
TABLE=$(
    printf '| target | URL | req/s (median) | req/s min..max | p50 ms | p99 ms | server cores | upstream cores | box cores | req per server CPU-s | errors / non-2xx |\n'
    printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    for t in "${SELECTED[@]}"; do
        rps=$(col "$t" 3 | median); p50=$(col "$t" 4 | median); p99=$(col "$t" 5 | median)
        mn=$(col "$t" 3 | sort -g | head -n1); mx=$(col "$t" 3 | sort -g | tail -n1)
        sc=$(col "$t" 8 | median); uc=$(col "$t" 9 | median); bc=$(col "$t" 10 | median)
        errs=$(col "$t" 6 | awk '{ s += $1 } END { print s + 0 }'); non2=$(col "$t" 7 | awk '{ s += $1 } END { print s + 0 }')
        awk -v t="$t" -v u="${T_URL[$t]}" -v rps="$rps" -v mn="$mn" -v mx="$mx" -v p50="$p50" -v p99="$p99" \
            -v sc="$sc" -v uc="$uc" -v bc="$bc" -v e="$errs" -v n2="$non2" 'BEGIN {
                eff = (sc > 0) ? sprintf("%.0f", rps / sc) : "n/a"
                printf "| %s | %s | %.0f | %.0f..%.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %d / %d |\n",
                    t, u, rps, mn, mx, p50 / 1000, p99 / 1000, sc, uc, bc, eff, e, n2 }'
    done
)
for t in "${SELECTED[@]}"; do
    M_RPS[$t]=$(col "$t" 3 | median); M_P50[$t]=$(col "$t" 4 | median); M_P99[$t]=$(col "$t" 5 | median)
done

RATIOS=""
for t in "${SELECTED[@]}"; do
    [[ $t == apigate* ]] || continue
    refs="nginx yarp direct"
    [[ $t == apigate-public ]] || refs="apigate-public $refs"
    [[ $t != apigate-transform ]] || refs="apigate-auth $refs"
    for ref in $refs; do
        [[ -n ${M_RPS[$ref]:-} ]] || continue
        RATIOS+=$(awk -v t="$t" -v ref="$ref" -v a="${M_RPS[$t]}" -v b="${M_RPS[$ref]}" \
            -v a50="${M_P50[$t]}" -v b50="${M_P50[$ref]}" -v a99="${M_P99[$t]}" -v b99="${M_P99[$ref]}" 'BEGIN {
                printf "- %s vs %s: throughput %.2fx (%+.0f%%), p50 %.2fx, p99 %.2fx\n",
                    t, ref, a / b, (a / b - 1) * 100, a50 / b50, a99 / b99 }')
        RATIOS+=$'\n'
    done
done

GIT_REV=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo "no commit")
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
REPORT=$(
    echo "# APIGate end-to-end benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), git: $GIT_REV"
    echo "- box: $(nproc) CPUs ($CPU_MODEL), $(uname -sr)"
    echo "- tools: $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}'), $(nginx -v 2>&1 | sed 's/^nginx version: //'), dotnet $(dotnet --version 2>/dev/null || echo '?')"
    echo "- load: wrk -t$THREADS -c$CONNECTIONS, ${DURATION}s per run, $ROUNDS interleaved rounds (median reported), ${WARMUP}s warm-up per target"
    echo "- nginx worker_processes: proxy=$NGINX_PROXY_WORKERS, upstream=$NGINX_UPSTREAM_WORKERS"
    echo "- GATEWAY_ENV (BareYarp and APIGate): '${GATEWAY_ENV}'"
    echo
    echo "$TABLE"
    echo
    echo "Cores = CPU seconds (utime+stime from /proc, incl. nginx workers) / wall seconds during the measured runs."
    echo "'server' = the process serving the target, 'upstream' = the static nginx behind it, 'box' = whole machine (incl. wrk)."
    if [[ -n $RATIOS ]]; then
        echo
        echo "Ratios (median req/s; latency ratio > 1 means slower):"
        echo
        printf '%s' "$RATIOS"
    fi
    echo
    echo "Per run:"
    echo
    echo "| round | target | req/s | p50 ms | p99 ms | server cores | upstream cores | box cores |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|"
    sort -t$'\t' -k1,1n -k2,2 "$RUNS_TSV" | awk -F'\t' '{ printf "| %s | %s | %.0f | %.2f | %.2f | %s | %s | %s |\n", $1, $2, $3, $4 / 1000, $5 / 1000, $8, $9, $10 }'
)

mkdir -p "$RESULTS_DIR"
printf '%s\n' "$REPORT" >"$RESULTS_DIR/latest.md"
cp "$RAW_LOG" "$RESULTS_DIR/latest-raw.log"
echo
printf '%s\n' "$REPORT"
echo
log "written $RESULTS_DIR/latest.md (raw wrk output: $RESULTS_DIR/latest-raw.log)"
