#!/usr/bin/env bash
# Run librdkafka 2.12.1 integration tests against a running broker, one test
# number at a time, and report each.
#
#   scripts/compat/librdkafka/run.sh BOOTSTRAP [LIST_FILE | TEST_NUMBER...]
#   e.g. run.sh 127.0.0.1:9092 scripts/compat/librdkafka/lists/core.txt
#        run.sh 127.0.0.1:9092 0012 0017
#
# Env:
#   OUT                 results folder (default target/librdkafka-results)
#   TEST_TIMEOUT        seconds per test number (default 300)
#   TEST_KAFKA_VERSION  broker version the tests assume (default 4.1.0)
#   TEST_CONSUMER_GROUP_PROTOCOL  classic (default) or consumer (KIP-848)
#   TEST_EXTRA_CONF     extra test.conf lines as key=value;key=value
#   RETRY_FAILED        1 (default): a failed test runs once more, and passes
#                       as FLAKY if the second run passes; 0: no second run
#   RUN_BUDGET_S        total seconds for the whole list (default: none); once
#                       spent, the remaining tests are not run and count as
#                       failed ('not run: budget'), so a hanging broker cannot
#                       stall a CI run for hours
#
# Writes OUT/results.csv (test,name,result,seconds), OUT/NNNN.log and
# OUT/test.conf; prints one line per test and finally
# 'librdkafka: N passed, N failed, N skipped[, flaky (passed on the second
# run): NNNN ...]'. Exit 0 only if none failed.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BOOTSTRAP="${1:?usage: run.sh BOOTSTRAP [LIST_FILE | TEST_NUMBER...]}"; shift
SRC="$("$HERE/build.sh")" || { echo "librdkafka build failed" >&2; exit 2; }
TESTS_DIR="$SRC/tests"
OUT="$(realpath -m "${OUT:-target/librdkafka-results}")"
mkdir -p "$OUT"

nums=()
for a in "$@"; do
    if [[ -f "$a" ]]; then
        while read -r n _; do [[ "$n" =~ ^[0-9]{4}$ ]] && nums+=("$n"); done <"$a"
    elif [[ "$a" =~ ^[0-9]{4}$ ]]; then
        nums+=("$a")
    else
        echo "not a list file or test number: $a" >&2; exit 2
    fi
done
((${#nums[@]})) || { echo "no tests named" >&2; exit 2; }

# Our own test.conf (not the shared tests/test.conf), so runs from several
# checkouts sharing the build cache do not overwrite each other's.
export RDKAFKA_TEST_CONF="$OUT/test.conf"
{
    echo "bootstrap.servers=$BOOTSTRAP"
    if [[ -n "${TEST_EXTRA_CONF:-}" ]]; then tr ';' '\n' <<<"$TEST_EXTRA_CONF"; fi
} >"$RDKAFKA_TEST_CONF"
export LD_LIBRARY_PATH="$SRC/src:$SRC/src-cpp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export TEST_KAFKA_VERSION="${TEST_KAFKA_VERSION:-4.1.0}"
export TEST_CONSUMER_GROUP_PROTOCOL="${TEST_CONSUMER_GROUP_PROTOCOL:-classic}"
# The runner changes behaviour under CI=... and would try to drive a Kafka
# installation of its own with KAFKA_PATH/ZK_ADDRESS.
unset KAFKA_PATH ZK_ADDRESS CI

echo "test,name,result,seconds" >"$OUT/results.csv"
pass=0; fail=0; skip=0; flaky=()
run_start=$(date +%s)
budget_left() { # seconds left of RUN_BUDGET_S, or a large number without one
    if [[ -n "${RUN_BUDGET_S:-}" ]]; then echo $((RUN_BUDGET_S - ($(date +%s) - run_start)))
    else echo 999999; fi
}
# run_once N LOG: runs test N once into LOG; sets res (PASS/FAIL/SKIP) and
# timed_out.
run_once() {
    local n=$1 log=$2 tmo rc states left
    tmo="${TEST_TIMEOUT:-300}"
    left=$(budget_left)
    ((left < tmo)) && tmo=$left
    (cd "$TESTS_DIR" && TESTS="$n" timeout -k 10 "$tmo" ./test-runner -p1 -Q -E) >"$log" 2>&1
    rc=$?
    # The runner's summary has a row per test entry: | 0012_produce_consume | PASSED | ...
    states="$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -oE "^\| *${n}_[A-Za-z0-9_]+ *\| *[A-Z]+" | awk '{print $NF}')"
    timed_out=$([[ $rc -eq 124 || $rc -eq 137 ]] && echo 1 || echo 0)
    if ((timed_out)); then res=FAIL
    elif grep -qE 'FAILED|RUNNING' <<<"$states" || [[ $rc -ne 0 ]]; then res=FAIL
    elif grep -q PASSED <<<"$states"; then res=PASS
    else res=SKIP
    fi
}
for n in "${nums[@]}"; do
    if (($(budget_left) <= 0)); then
        fail=$((fail + 1))
        echo "$n,,FAIL,0" >>"$OUT/results.csv"
        echo "$n: FAIL (not run: budget of ${RUN_BUDGET_S}s spent)"
        continue
    fi
    f="$(ls "$TESTS_DIR/$n"-*.c* 2>/dev/null | head -1)"
    name="$(basename "${f%.*}")"; name="${name#*-}"
    log="$OUT/$n.log"
    t0=$(date +%s)
    run_once "$n" "$log"
    note=""
    # These tests run against real timers (heartbeats, poll intervals,
    # sleeps); some race their own client's timers, and lose whatever the
    # broker does (0091 under KIP-848, see lists/README.md). A failure gets
    # one more run; a test that passes only then is reported as flaky, by
    # name, in the last line, and its first log is kept as NNNN.try1.log.
    if [[ $res == FAIL ]] && ((${RETRY_FAILED:-1} > 0)) && (($(budget_left) > 0)); then
        mv "$log" "$OUT/$n.try1.log"
        first_timed_out=$timed_out
        run_once "$n" "$log"
        if [[ $res == PASS ]]; then
            res=FLAKY
            note=" (failed on the first run$(((first_timed_out)) && echo ', timeout'); log: $n.try1.log)"
            flaky+=("$n")
        fi
    fi
    secs=$(($(date +%s) - t0))
    case $res in PASS | FLAKY) pass=$((pass + 1)) ;; FAIL) fail=$((fail + 1)) ;; SKIP) skip=$((skip + 1)) ;; esac
    echo "$n,$name,$res,$secs" >>"$OUT/results.csv"
    echo "$n $name: $res (${secs}s)$(((timed_out)) && echo ' timeout')$note"
done
echo "librdkafka: $pass passed, $fail failed, $skip skipped${flaky[*]:+, flaky (passed on the second run): ${flaky[*]}}"
((fail == 0))
