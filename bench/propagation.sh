#!/usr/bin/env bash
# How soon a change made through one instance is enforced by another (SPEC §12: within a second), measured instead of
# asserted in the tests, where the box is shared. Two gateways on a throwaway PostgreSQL server (initdb in a temp
# directory, loopback only): the second polls the config version only once an hour, so what it enforces came by
# LISTEN/NOTIFY. Two gateways on one SQLite file: the second sees changes by its version poll (250 ms by default).
# Each round a key both instances have served is revoked through the first instance's admin API; the time runs from
# its answer (the change committed) to the first 401 the second instance answers, asked every 5 ms on a kept-alive
# connection.
#
#   bench/propagation.sh               # 20 revocations per store
#   ROUNDS=50 SQLITE_POLL=1s bench/propagation.sh   # SQLITE_POLL: the second SQLite instance's APIGATE_CONFIG_POLL_INTERVAL
#
# Needs nginx and Debian's postgresql package. Everything runs on 127.0.0.1; every process started is stopped by PID on
# exit (PostgreSQL by its postmaster's PID); every wait is bounded. As root, PostgreSQL runs as `postgres`.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-20}
UPSTREAM_PORT=${UPSTREAM_PORT:-18481}
PG_PORT=${PG_PORT:-18499}
# shellcheck source=bench/pg-server.sh
source "$REPO_DIR/bench/pg-server.sh" # ab-common.sh, then the PostgreSQL server

export APIGATE_SERVER_HOST=127.0.0.1 APIGATE_LOG_LEVEL=warn
declare -A store_env=(
    [postgres]="APIGATE_DATABASE_DRIVER=postgres APIGATE_DATABASE_DSN=Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=apigate"
    [sqlite]="APIGATE_DATABASE_DRIVER=sqlite APIGATE_DATABASE_DSN=$TMP_DIR/propagation.db"
)
declare -A second_poll=([postgres]=1h [sqlite]=${SQLITE_POLL:-250ms})
base_port=18490
echo "| store (second instance's poll) | revocations | median ms | p90 ms | max ms |"
echo "|---|---:|---:|---:|---:|"
for side in postgres sqlite; do
    # shellcheck disable=SC2086 # the store's settings are split into env's arguments on purpose
    {
        env ${store_env[$side]} "$APIGATE_BIN" upstreams create --name up --url "http://127.0.0.1:$UPSTREAM_PORT"
        env ${store_env[$side]} "$APIGATE_BIN" routes create --name private --path "/private/*" --upstream up
        env ${store_env[$side]} "$APIGATE_BIN" users create --email ops@example.com
    } >>"$TMP_DIR/setup.log" 2>&1
    # shellcheck disable=SC2086
    token=$(env ${store_env[$side]} "$APIGATE_BIN" admin tokens create --name propagation 2>>"$TMP_DIR/setup.log")
    for instance in 1 2; do
        port=$((base_port + instance))
        # shellcheck disable=SC2086
        env ${store_env[$side]} APIGATE_SERVER_PORT=$port APIGATE_CONFIG_POLL_INTERVAL="$([[ $instance == 2 ]] && echo "${second_poll[$side]}" || echo 250ms)" \
            "$APIGATE_BIN" serve >"$TMP_DIR/serve-$side-$instance.log" 2>&1 &
        PIDS+=("$!")
        wait_healthy "$port"
    done
    # shellcheck disable=SC2086
    APIGATE_TOKEN=$token SECOND_POLL=${second_poll[$side]} python3 - "$ROUNDS" "$((base_port + 1))" "$side" <<'EOF'
import http.client, json, os, random, sys, time
rounds, port, side = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
admin = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
second = http.client.HTTPConnection("127.0.0.1", port + 1, timeout=5)
def call(conn, method, path, headers, body=None):
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()
def manage(method, path, body=None):
    headers = {"Authorization": "Bearer " + os.environ["APIGATE_TOKEN"], "Content-Type": "application/json"}
    status, answer = call(admin, method, "/admin" + path, headers, body)
    if status >= 300:
        sys.exit(f"{side}: {method} /admin{path} answered {status}: {answer[:200]!r}")
    return json.loads(answer)
status = lambda key: call(second, "GET", "/private/x", {"X-API-Key": key})[0]
samples = []
for _ in range(rounds):
    created = manage("POST", "/keys", json.dumps({"user": "ops@example.com"}))
    key, key_id = created["meta"]["key"], created["data"]["id"]
    deadline = time.monotonic() + 30
    while status(key) != 200:  # the new key reaches the second instance first
        if time.monotonic() > deadline:
            sys.exit(f"{side}: the new key never reached the second instance")
        time.sleep(0.005)
    time.sleep(random.uniform(0, 0.3))  # out of step with the poll that brought the key
    manage("POST", f"/keys/{key_id}/revoke")
    committed = time.monotonic()
    while status(key) != 401:
        if time.monotonic() - committed > 30:
            sys.exit(f"{side}: the revocation never reached the second instance")
        time.sleep(0.005)
    samples.append((time.monotonic() - committed) * 1000)
samples.sort()
pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
label = {"postgres": "PostgreSQL (polls once an hour: notification only)", "sqlite": "SQLite (" + os.environ["SECOND_POLL"] + " poll)"}[side]
print(f"| {label} | {len(samples)} | {pick(0.5):.0f} | {pick(0.9):.0f} | {samples[-1]:.0f} |")
EOF
    base_port=$((base_port + 2))
done
