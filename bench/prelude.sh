# The start of every bench script that runs processes; sourced, not run. Needs REPO_DIR and TMP_PREFIX (the temp
# directory's name prefix). Gives TMP_DIR, PIDS (every process added there is stopped by PID on exit, then TMP_DIR is
# removed), APIGATE_BIN and a Release build of the CLI (unless SKIP_BUILD=1).
APIGATE_BIN=${APIGATE_BIN:-$REPO_DIR/src/ApiGate.Cli/bin/Release/net10.0/apigate} # another build: set APIGATE_BIN (and SKIP_BUILD=1)
TMP_DIR=$(mktemp -d "/tmp/$TMP_PREFIX.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP_DIR"
}
trap cleanup EXIT

[[ ${SKIP_BUILD:-0} == 1 ]] || dotnet build "$REPO_DIR/src/ApiGate.Cli" -c Release >/dev/null
