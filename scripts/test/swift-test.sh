#!/usr/bin/env bash
# `make test-swift`: builds the tests, then runs them under a watchdog. A test that never ends
# (a lost wakeup, a peer that never answers) would otherwise hold CI until its 90-minute limit
# and print nothing useful: the test binary's output is block-buffered into a pipe. Here the
# output is line-buffered, and past SWIFT_TEST_TIMEOUT seconds (default 900; a whole run takes
# under a minute once built) the watchdog names the tests that started and never finished,
# prints every thread's stack (gdb), kills the run and fails.
set -uo pipefail
SWIFT=${SWIFT:-swift}
limit=${SWIFT_TEST_TIMEOUT:-900}
log=$(mktemp -t swift-test.XXXXXX.log)
trap 'rm -f "$log"' EXIT

start=$(date +%s)
"$SWIFT" build --build-tests || exit $?
echo "swift-test: tests built in $(( $(date +%s) - start )) s"

start=$(date +%s)
# stdbuf reaches the test binary through the environment swift test passes on.
stdbuf -oL -eL "$SWIFT" test --skip-build "$@" > >(tee "$log") 2>&1 &
runner=$!
while kill -0 "$runner" 2>/dev/null; do
    sleep 5
    (( $(date +%s) - start < limit )) || break
done
if kill -0 "$runner" 2>/dev/null; then
    echo "swift-test: still running after ${limit} s: these tests started and never finished:"
    started=$(sed -nE 's/^◇ Test (.*) started\.$/\1/p' "$log" | grep -v -e '^case passing' -e '^run$' | sort -u)
    finished=$(sed -E 's/ with [0-9]+ test cases? (passed|failed) after/ \1 after/' "$log" \
        | sed -nE 's/^[✔✘] Test (.*) (passed|failed) after .*/\1/p' | sort -u)
    comm -23 <(echo "$started") <(echo "$finished") | sed 's/^/  /'
    for pid in $(pgrep -f 'PackageTests\.xctest'); do
        if command -v gdb >/dev/null; then
            echo "swift-test: threads of the test process $pid:"
            gdb -p "$pid" -batch -ex 'thread apply all bt 25' 2>/dev/null | grep -E '^(Thread|#)' | cut -c1-240
        fi
        kill -9 "$pid" 2>/dev/null
    done
    kill "$runner" 2>/dev/null
    wait "$runner" 2>/dev/null
    exit 124
fi
wait "$runner"
status=$?
echo "swift-test: tests ran in $(( $(date +%s) - start )) s, exit $status"
exit $status
