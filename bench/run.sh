#!/usr/bin/env bash
# Gregor's benchmark: builds the release binary and librdkafka's
# rdkafka_performance (the project's own librdkafka harness), measures the
# disk with dd, then runs the produce/consume/latency matrix against a fresh
# broker per scenario and writes BENCHMARKS.md. See bench/bench.py for what
# each phase runs and how CPU and RSS are read.
#
#   bench/run.sh            full matrix: 100 B and 1,024 B records, acks=1 and
#                           acks=all, 1 and 8 partitions, 3 repetitions
#   bench/run.sh --quick    smoke test: 2 small scenarios, 1 repetition; the
#                           report's header says it is a smoke run
#   bench/run.sh --scale    only the scale benchmark (bench/scale.py): 10,000
#                           partitions (create, Metadata, idle RSS, restarts),
#                           1,000 idle connections, restart after kill -9 with
#                           10 GB in 1,000 partitions; replaces only the
#                           "## Scale" section of the output file
#   bench/run.sh --scale --quick   the same with 1,000 partitions, 100
#                           connections and 0.5 GB (a smoke run)
#
# Options: --out FILE (default: BENCHMARKS.md at the repository root),
# --workdir DIR (where broker data dirs and the dd file go; default $TMPDIR),
# --scale-gb GB (with --scale: GB written before the kill -9; default 10).
# A matrix run rewrites the output file but keeps its "## Scale" sections.
# Exit status 1 if any scenario failed (the report lists the failures).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command="bench/run.sh${*:+ $*}"
quick=()
scale=0
scale_gb=()
out="$root/BENCHMARKS.md"
workdir=()
while (($#)); do
    case "$1" in
        --quick) quick=(--quick) ;;
        --scale) scale=1 ;;
        --scale-gb) scale_gb=(--scale-gb "$2"); shift ;;
        --out) out="$(realpath -m "$2")"; shift ;;
        --workdir) workdir=(--workdir "$2"); shift ;;
        -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

cd "$root"
echo "[bench] cargo build --release -p gregor" >&2
cargo build --release -q -p gregor
# A private copy: target/ is shared, and another build must not swap the
# binary under a running matrix.
bindir="$(mktemp -d "${TMPDIR:-/tmp}/gregor-bench-bin.XXXXXX")"
trap 'rm -rf "$bindir"' EXIT
cp "$root/target/release/gregor" "$bindir/gregor"
gregor="$bindir/gregor"
"$gregor" perf --help >/dev/null || { echo "bench/run.sh: $gregor has no perf command; stale build?" >&2; exit 2; }

librdkafka="$("$root/scripts/compat/librdkafka/build.sh")"
perf="$librdkafka/examples/rdkafka_performance"
version="$(sed -n 's/.*librdkafka version \([0-9.]*\).*/\1/p' < <("$perf" -h 2>&1 || true) | head -1)"

if ((scale)); then
    status=0
    python3 "$root/bench/scale.py" "${quick[@]}" "${scale_gb[@]}" "${workdir[@]}" \
        --gregor "$gregor" --rdkafka-performance "$perf" --out "$out" --command "$command" || status=$?
    exit "$status"
fi
((${#scale_gb[@]} == 0)) || { echo "bench/run.sh: --scale-gb needs --scale" >&2; exit 2; }

# bench.py writes the whole file, keeping the sections it does not produce
# (the scale results from another run, and the written analysis).
status=0
python3 "$root/bench/bench.py" "${quick[@]}" "${workdir[@]}" \
    --gregor "$gregor" --rdkafka-performance "$perf" --librdkafka-version "${version:-unknown}" \
    --out "$out" --command "$command" || status=$?
exit "$status"
