#!/usr/bin/env bash
# Start a release `gregor broker` on a free loopback port with a temporary
# data directory, run the librdkafka core list against it, stop it (SIGTERM).
#
#   scripts/compat/run-core.sh [LIST_FILE]    (default: the core list)
#
# Env: GREGOR_BIN (default target/release/gregor), OUT (results folder),
# GREGOR_BROKER_OVERRIDES (extra space-separated key=value broker configs),
# plus everything librdkafka/run.sh reads. Exit status: run.sh's, or 2 if the
# broker could not be started.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
LIST="${1:-scripts/compat/librdkafka/lists/core.txt}"
BIN="${GREGOR_BIN:-$ROOT/target/release/gregor}"
[[ -x "$BIN" ]] || { echo "no gregor binary at $BIN (cargo build --release -p gregor)" >&2; exit 2; }
# Build (or find) the runner before the broker starts, so the broker does not
# sit idle through a ten-minute compile.
scripts/compat/librdkafka/build.sh >/dev/null || { echo "librdkafka build failed" >&2; exit 2; }

TMP="$(mktemp -d -t gregor-compat-XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
LOG="$TMP/broker.log"
# num.partitions=4 is the auto-create partition count of librdkafka's own
# "default" test scenario (tests/scenarios/default.json); tests such as 0012
# produce to partitions 0..1 of auto-created topics and rely on it.
EXTRA=()
for kv in ${GREGOR_BROKER_OVERRIDES:-}; do EXTRA+=(--override "$kv"); done
NO_COLOR=1 "$BIN" broker \
    --override "num.partitions=4" \
    "${EXTRA[@]}" \
    --override "listeners=PLAINTEXT://127.0.0.1:$PORT" \
    --override "advertised.listeners=PLAINTEXT://127.0.0.1:$PORT" \
    --override "log.dirs=$TMP/data" >"$LOG" 2>&1 &
PID=$!
stop_broker() {
    if kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID"
        for _ in $(seq 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$PID" 2>/dev/null && { echo "broker ignored SIGTERM for 30 s; killing" >&2; kill -KILL "$PID"; }
    fi
    wait "$PID" 2>/dev/null
}
trap 'stop_broker; rm -rf "$TMP"' EXIT

# Ready = answers an ApiVersions v0 request (deadline 30 s).
if ! python3 - "$PORT" "$PID" <<'PY'
import os, socket, struct, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
req = struct.pack(">hhih", 18, 0, 1, 0)
req = struct.pack(">i", len(req)) + req
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("broker exited during startup")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(req)
            if len(s.recv(8)) >= 4:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit("broker not ready within 30 s")
PY
then
    tail -40 "$LOG" >&2
    exit 2
fi

scripts/compat/librdkafka/run.sh "127.0.0.1:$PORT" "$LIST"
rc=$?
if ! kill -0 "$PID" 2>/dev/null; then
    echo "gregor broker died during the run; log tail:" >&2; tail -40 "$LOG" >&2; rc=1
elif ((rc != 0)); then
    echo "(broker log: last 20 lines)" >&2; tail -20 "$LOG" >&2
fi
exit $rc
