#!/usr/bin/env bash
# Runs the whole test suite under ThreadSanitizer and under AddressSanitizer (with LeakSanitizer),
# one after the other, the way CI should, and prints how long each took (build included).
#
#   bash Scripts/sanitizers.sh                 # both
#   bash Scripts/sanitizers.sh thread          # or only one: thread | address
#
# Each sanitizer builds into its own scratch directory (.build-tsan, .build-asan; override with
# SANITIZER_SCRATCH_PREFIX=/some/dir/.build), so the normal .build is untouched and reruns are
# incremental. Plain `swift test --sanitize=...` commands: no suppression file and no *SAN_OPTIONS
# are needed. What the address run relies on is in Tests/WebSocketsTests/SanitizerSupport.swift
# (two toolchain bugs, suppressed inside the test binary only); ThreadSanitizer needs nothing, since
# the library's locks are visible to it (Sources/WebSockets/EventLoop/Lock.swift).
#
# Fails if a suite fails or if any sanitizer report appears in the output, including one printed by
# a child process (the CLI contract tests run the sanitized `websocket` binary).
set -uo pipefail
cd "$(dirname "$0")/.."

prefix=${SANITIZER_SCRATCH_PREFIX:-.build}
logs=${SANITIZER_LOG_DIR:-$prefix-sanitizer-logs}
mkdir -p "$logs"
sanitizers=("$@")
[ ${#sanitizers[@]} -eq 0 ] && sanitizers=(thread address)

summary=()
failed=0
rm -f "$logs/failures.txt"
for sanitizer in "${sanitizers[@]}"; do
    case "$sanitizer" in
        thread) scratch="$prefix-tsan" ;;
        address) scratch="$prefix-asan" ;;
        *) echo "unknown sanitizer '$sanitizer' (thread or address)" >&2; exit 2 ;;
    esac
    log="$logs/$sanitizer.log"
    echo "== swift test --sanitize=$sanitizer --scratch-path $scratch (log: $log)"
    start=$(date +%s)
    swift test --scratch-path "$scratch" --sanitize="$sanitizer" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    seconds=$(( $(date +%s) - start ))
    reports=$(grep -cE '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: (AddressSanitizer|LeakSanitizer))' "$log")
    result="passed"
    if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ]; then
        result="FAILED (exit $status, $reports sanitizer reports)"
        failed=1
        # What failed, kept apart so that a caller can print it last (CI shows a log's tail):
        # the failing tests and their issues, and the first lines of every sanitizer report.
        {
            echo "== $sanitizer: FAILED (exit $status, $reports sanitizer reports); full log: $log"
            grep -E '^(✘|. .*(Expectation failed|Issue recorded|Caught error))' "$log" | head -40
            awk '/^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: (Address|Leak)Sanitizer)/ { n = 25 }
                 n > 0 { print; n-- }' "$log" | head -150
            grep -nE 'Fatal error|fatal error|Signal [0-9]|exited with signal|timed out' "$log" | head -20
        } >>"$logs/failures.txt"
    fi
    # The split, from SwiftPM's and swift-testing's own summary lines (empty if a build failed).
    build=$(sed -nE 's/^Build complete! \(([0-9.]+)s\)$/\1/p' "$log" | tail -1)
    tests=$(sed -nE 's/.*Test run with .* after ([0-9.]+) seconds.*/\1/p' "$log" | tail -1)
    summary+=("$(printf '%-8s %3dm%02ds  (build %ss, tests %ss)  %s' "$sanitizer" $((seconds / 60)) \
        $((seconds % 60)) "${build:-?}" "${tests:-?}" "$result")")
done

echo
echo "== sanitizer suites (wall time, build included)"
printf '%s\n' "${summary[@]}"
exit $failed
